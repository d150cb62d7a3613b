"""`python -m attention_ref.conformance module:function`; see `attention_ref.conformance`."""

from ._cli import main

raise SystemExit(main())
