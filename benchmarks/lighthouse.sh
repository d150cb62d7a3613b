#!/usr/bin/env bash
# Lighthouse scores of the article's landing page, as a reader's browser gets it: the site is
# built (as published: the configured site_url, SITE_URL if set), served on 127.0.0.1 at
# site_url's path, and measured by Lighthouse 12.2.3 in Debian's Chromium (mobile emulation,
# Lighthouse's default throttling). Prints the four category scores; the JSON and HTML
# reports go to $LIGHTHOUSE_OUT (default: $TMPDIR/attention-ref-lighthouse).
#
#   bash benchmarks/lighthouse.sh                     # from the repository root or anywhere
#   bash benchmarks/lighthouse.sh --preset=desktop    # extra arguments go to lighthouse
#   PAGE=masks/ bash benchmarks/lighthouse.sh         # another page than the article
#   SITE=site bash benchmarks/lighthouse.sh           # an existing build instead of a new one
#
# Targets: 100 in accessibility, best practices and SEO, 95 or more in performance. Not a
# test: the performance score depends on timing and on what else the machine is doing.
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
url="http://127.0.0.1:$port/${path:+$path/}${PAGE:-}"
"$python" - "$url" <<'PY'
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

mkdir -p "$out"
echo "lighthouse $url ..." >&2
npx --yes "$LIGHTHOUSE" "$url" \
    --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run" \
    --only-categories=performance,accessibility,best-practices,seo \
    --output=json --output=html --output-path="$out/report" --quiet "$@"

"$python" - "$out/report.report.json" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
print(f"Lighthouse {report['lighthouseVersion']}, {report['configSettings']['formFactor']}, "
      f"{report['finalDisplayedUrl']}")
for key in ("performance", "accessibility", "best-practices", "seo"):
    category = report["categories"][key]
    print(f"  {category['title']:<15} {round(category['score'] * 100):>3}")
    failed = [a for a in category["auditRefs"] if a["weight"]
              and report["audits"][a["id"]]["score"] not in (None, 1)]
    for ref in failed:
        audit = report["audits"][ref["id"]]
        print(f"      {audit['score']:.2f}  {audit['title']}  {audit.get('displayValue', '')}")
print(f"reports: {sys.argv[1].removesuffix('.json')}.{{json,html}}")
PY
