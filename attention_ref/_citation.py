"""How to cite attention_ref. GENERATED from CITATION.cff: do not edit.

Regenerate with ``python -m attention_ref_site.citation --write``; tests/test_publish.py
fails when this file and CITATION.cff disagree. ``attention_ref.__citation__`` is
`CITATION`, and ``python -m attention_ref --cite`` prints it.
"""

#: The software: the code of attention_ref and the numbers computed with it.
SOFTWARE_BIBTEX = """\
@software{attention_ref,
  title   = {attention-ref: a tested {NumPy} reference implementation of
             attention},
  author  = {{The attention-ref authors}},
  year    = {2026},
  version = {0.2.0},
  url     = {https://attention-ref.github.io/attention-ref/},
  license = {MIT}
}
"""

#: The article: its text.
ARTICLE_BIBTEX = """\
@online{ding2024understanding,
  title  = {{Understanding} {Attention} {Mechanisms} in {Transformers}},
  author = {Ding, Jimmy},
  date   = {2024-03-20},
  url    = {https://attention-ref.github.io/attention-ref/}
}
"""

#: Both, each under a comment saying what it covers (a valid .bib file).
CITATION = """\
% How to cite attention-ref 0.2.0 (generated from its CITATION.cff).
%
% The code of attention_ref, and the numbers, tables and figures computed with it:
% cite the software, with the version you used. For a number from the site, add
% the commit named in the page's footer (note = {commit ...}).
@software{attention_ref,
  title   = {attention-ref: a tested {NumPy} reference implementation of
             attention},
  author  = {{The attention-ref authors}},
  year    = {2026},
  version = {0.2.0},
  url     = {https://attention-ref.github.io/attention-ref/},
  license = {MIT}
}

% The text of the article "Understanding Attention Mechanisms in Transformers"
% (Jimmy Ding, 2024-03-20): cite the article.
@online{ding2024understanding,
  title  = {{Understanding} {Attention} {Mechanisms} in {Transformers}},
  author = {Ding, Jimmy},
  date   = {2024-03-20},
  url    = {https://attention-ref.github.io/attention-ref/}
}
"""
