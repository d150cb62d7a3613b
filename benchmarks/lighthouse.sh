#!/usr/bin/env bash
# Lighthouse scores of every page of the site, as a reader's browser gets it: the site is
# built (as published: the configured site_url, SITE_URL if set), served on 127.0.0.1 at
# site_url's path with gzip, and each page is measured by Lighthouse 12.2.3 in Debian's
# Chromium (mobile emulation, Lighthouse's default throttling). Prints one table: the four
# category scores, the DOM elements, the total blocking time and the bytes transferred of
# each page, and under it every failed audit that weighs on a score. The JSON and HTML
# reports go to $LIGHTHOUSE_OUT (default: $TMPDIR/attention-ref-lighthouse), one per page.
#
#   bash benchmarks/lighthouse.sh                     # every page of the sitemap
#   bash benchmarks/lighthouse.sh --preset=desktop    # extra arguments go to lighthouse
#   PAGES="masks/ flash/" bash benchmarks/lighthouse.sh   # some pages ("" or / : the article)
#   SITE=site bash benchmarks/lighthouse.sh           # an existing build instead of a new one
#
# Targets: 100 in accessibility, best practices and SEO, 95 or more in performance on every
# page, and fewer than 1,500 DOM elements on the article page. Not a test: the performance
# score and the blocking time depend on timing and on what else the machine is doing (run it
# on a quiet machine, twice); the DOM counts and the bytes do not.
# Needs the project's .venv, Node 18+ with npx (lighthouse is fetched from npm into a cache
# outside the repository) and Chromium (CHROME_PATH, default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

LIGHTHOUSE=lighthouse@12.2.3
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
export npm_config_cache=${npm_config_cache:-${XDG_CACHE_HOME:-$HOME/.cache}/attention-ref-lighthouse/npm}
out=${LIGHTHOUSE_OUT:-${TMPDIR:-/tmp}/attention-ref-lighthouse}
python=.venv/bin/python

work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${SITE:-}" ]; then
    cp -r "$SITE" "$work/site"
else
    echo "building the site ..." >&2
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0) NO_MKDOCS_2_WARNING=1 \
        "$python" -m mkdocs build --strict -d "$work/site" 2>"$work/build.log" \
        || { cat "$work/build.log" >&2; exit 1; }
fi

# Serve it at site_url's path (read from the sitemap), as the host will.
path=$("$python" - "$work/site/sitemap.xml" <<'PY'
import sys
from urllib.parse import urlsplit
from xml.etree import ElementTree

loc = ElementTree.parse(sys.argv[1]).find("{http://www.sitemaps.org/schemas/sitemap/0.9}url/")
print(urlsplit(loc.text).path.strip("/"))
PY
)
mkdir -p "$work/www/$path"
rmdir "$work/www/$path"
mv "$work/site" "$work/www/$path"
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A static server that compresses text with gzip, as GitHub Pages and other hosts do (plain
# `python -m http.server` does not, and the page would be measured at several times its size).
"$python" - "$port" "$work/www" >/dev/null 2>&1 <<'PY' &
import gzip, os, sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

TEXT = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as any real host

    def do_GET(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path) and self.path.split("?")[0].endswith("/"):
            path = os.path.join(path, "index.html")
        kind = self.guess_type(path)
        if not (os.path.isfile(path) and kind.startswith(TEXT)
                and "gzip" in self.headers.get("Accept-Encoding", "")):
            return super().do_GET()  # directories without a slash, binaries, 404s
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self):
        self.send_header("Cache-Control", "max-age=600")  # as GitHub Pages
        super().end_headers()


handler = partial(Handler, directory=sys.argv[2])
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
PY
server=$!
base="http://127.0.0.1:$port/${path:+$path/}"
"$python" - "$base" <<'PY'
import sys, time, urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for _ in range(100):
    try:
        opener.open(sys.argv[1], timeout=2).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"the local server did not answer at {sys.argv[1]}")
PY

# The pages: $PAGES (or the old single $PAGE), else every page of the sitemap, in its order.
if [ -n "${PAGES:-${PAGE:-}}" ]; then
    read -r -a pages <<<"${PAGES:-${PAGE:-}}"
else
    mapfile -t pages < <("$python" - "$work/www/$path/sitemap.xml" <<'PY'
import sys
from urllib.parse import urlsplit
from xml.etree import ElementTree

ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
root = urlsplit(ElementTree.parse(sys.argv[1]).find(f"{ns}url/{ns}loc").text).path
for loc in ElementTree.parse(sys.argv[1]).iter(f"{ns}loc"):
    page = urlsplit(loc.text).path.removeprefix(root)
    print(page or "/")
PY
)
fi

mkdir -p "$out"
reports=()
for page in "${pages[@]}"; do
    page=${page#/}
    name=$(printf '%s' "${page:-index}" | tr '/' '-' | sed 's/-$//')
    echo "lighthouse $base$page ..." >&2
    npx --yes "$LIGHTHOUSE" "$base$page" \
        --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run" \
        --only-categories=performance,accessibility,best-practices,seo \
        --output=json --output=html --output-path="$out/$name" --quiet "$@"
    reports+=("$out/$name.report.json")
done

"$python" - "$base" "${reports[@]}" <<'PY'
import json, sys

base, paths = sys.argv[1], sys.argv[2:]
rows, failures = [], []
for path in paths:
    report = json.load(open(path))
    audits = report["audits"]
    page = report["finalDisplayedUrl"].removeprefix(base) or "/"  # "/": the article
    scores = [round(report["categories"][k]["score"] * 100)
              for k in ("performance", "accessibility", "best-practices", "seo")]
    dom = audits["dom-size"].get("numericValue")
    tbt = audits["total-blocking-time"].get("numericValue")
    size = audits["total-byte-weight"].get("numericValue")
    rows.append((page, *scores, dom, tbt, size))
    for key in ("performance", "accessibility", "best-practices", "seo"):
        for ref in report["categories"][key]["auditRefs"]:
            audit = audits[ref["id"]]
            if ref["weight"] and audit["score"] not in (None, 1):
                failures.append(f"  {page}: {audit['score']:.2f}  {audit['title']}  "
                                f"{audit.get('displayValue', '')}")
first = json.load(open(paths[0]))
print(f"Lighthouse {first['lighthouseVersion']}, {first['configSettings']['formFactor']}")
print(f"{'page':<32} {'perf':>4} {'a11y':>4} {'bp':>4} {'seo':>4} {'DOM':>6} "
      f"{'TBT ms':>7} {'kB':>6}")
for page, perf, a11y, bp, seo, dom, tbt, size in rows:
    print(f"{page:<32} {perf:>4} {a11y:>4} {bp:>4} {seo:>4} {dom or 0:>6.0f} "
          f"{tbt or 0:>7.0f} {(size or 0) / 1000:>6.0f}")
if failures:
    print("failed audits that weigh on a score:")
    print("\n".join(failures))
print(f"reports: {paths[0].rsplit('/', 1)[0]}/<page>.report.{{json,html}}")
PY
