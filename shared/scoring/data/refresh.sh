#!/usr/bin/env bash
# refresh.sh rewrites disposable_domains.txt, README.md and LICENSE in this
# folder from the npm package disposable-email-domains (`make
# disposable-domains`). It takes the package's dist-tag "latest" unless a
# version or dist-tag is given: ./refresh.sh 1.0.62, or
# DISPOSABLE_VERSION=1.0.62 make disposable-domains.
#
# Needs curl, python3 and Debian's publicsuffix package (for the entries
# that are public suffixes, which are dropped: see README.md).
set -euo pipefail
cd "$(dirname "$0")"

pkg=disposable-email-domains
want=${1:-${DISPOSABLE_VERSION:-latest}}
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
psl=${PUBLIC_SUFFIX_LIST:-/usr/share/publicsuffix/public_suffix_list.dat}

if [[ ! -r $psl ]]; then
	echo "refresh: $psl not found: apt-get install publicsuffix (or set PUBLIC_SUFFIX_LIST)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

curl -fsS --retry 2 -m 60 -o "$tmp/meta.json" "$registry/$pkg"
read -r version tarball < <(python3 - "$tmp/meta.json" "$want" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
want = sys.argv[2]
version = meta.get("dist-tags", {}).get(want, want)
if version not in meta.get("versions", {}):
    sys.exit(f"refresh: no version or dist-tag {want!r} of {meta.get('name')}")
print(version, meta["versions"][version]["dist"]["tarball"])
EOF
)
curl -fsS --retry 2 -m 300 -o "$tmp/pkg.tgz" "$tarball"

python3 - "$tmp/meta.json" "$version" "$tarball" "$tmp/pkg.tgz" "$psl" <<'EOF'
import base64, datetime, hashlib, json, re, sys, tarfile

meta_path, version, tarball, tgz, psl_path = sys.argv[1:]
dist = json.load(open(meta_path))["versions"][version]["dist"]
data = open(tgz, "rb").read()

# The tarball must be the one the registry vouches for.
integrity = dist.get("integrity", "")
if integrity.startswith("sha512-"):
    got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != integrity:
        sys.exit(f"refresh: {tarball}: integrity {got}, registry says {integrity}")
elif hashlib.sha1(data).hexdigest() != dist["shasum"]:
    sys.exit(f"refresh: {tarball}: shasum mismatch")

with tarfile.open(tgz) as tf:
    def member(name):
        return tf.extractfile("package/" + name).read().decode("utf-8")
    pkgjson = json.loads(member("package.json"))
    exact = json.loads(member("index.json"))
    wildcard = json.loads(member("wildcard.json"))
    readme = member("Readme.md")

if pkgjson["version"] != version:
    sys.exit(f"refresh: tarball holds version {pkgjson['version']}, not {version}")
licence = pkgjson.get("license", "")
if licence != "MIT":
    sys.exit(f"refresh: the licence is now {licence!r}, not MIT: read it before vendoring")

# ICANN public suffixes (edu.pl): matched as parents they would flag every
# domain under them.
icann, section = set(), False
for line in open(psl_path, encoding="utf-8"):
    line = line.strip()
    if "===BEGIN ICANN DOMAINS===" in line:
        section = True
    elif "===END ICANN DOMAINS===" in line:
        section = False
    elif section and line and not line.startswith("//"):
        icann.add(line)

domains, dropped = set(), set()
for d in exact + wildcard:
    d = d.strip().strip(".").lower()
    if not d:
        continue
    if d in icann:
        dropped.add(d)
        continue
    domains.add(d)
    # Listed in both forms: a lead's address may come in either.
    try:
        if not d.isascii():
            domains.add(d.encode("idna").decode("ascii"))
        elif "xn--" in d:
            domains.add(d.encode("ascii").decode("idna"))
    except UnicodeError:
        pass
# Sorted by code point, which is UTF-8 byte order: the Go side searches
# the file's bytes.
lines = sorted(domains)
with open("disposable_domains.txt", "w", encoding="utf-8", newline="\n") as f:
    f.write("".join(d + "\n" for d in lines))

m = re.search(r"^# License\s*\n(.*)", readme, re.S | re.M)
with open("LICENSE", "w", encoding="utf-8", newline="\n") as f:
    f.write(f"disposable-email-domains {version} (https://github.com/ivolo/disposable-email-domains)\n")
    f.write('package.json: "license": "MIT". The package ships no LICENSE file; this is\n')
    f.write("the License section of its Readme.md, as published:\n\n")
    f.write(m.group(1).strip("\n") + "\n" if m else "MIT\n")

today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
dropped_text = ", ".join(sorted(dropped)) or "none"
with open("README.md", "w", encoding="utf-8", newline="\n") as f:
    f.write(f"""# Scoring data

- `free_domains.txt`: free mail providers (webmail and consumer ISPs), kept
  by hand; one domain a line, sorted by byte.
- `disposable_domains.txt`: disposable (throwaway) email domains, one a line,
  sorted by byte. Written by `make disposable-domains` (`refresh.sh`): do not
  edit it by hand.

## disposable_domains.txt

- Source: the npm package `disposable-email-domains`
  (https://www.npmjs.com/package/disposable-email-domains, repository
  https://github.com/ivolo/disposable-email-domains)
- Version: {version}
- Tarball: {tarball}
- Integrity: {integrity or dist["shasum"]}
- Licence: MIT (package.json); the package ships no LICENSE file, so
  `LICENSE` beside this file holds the licence section of its Readme.md.
- Fetched: {today}
- Domains: {len(lines)}

What was done to the package's lists: `index.json` (exact domains) and
`wildcard.json` (domains whose every subdomain is disposable) are merged,
lower-cased and sorted, since package scoring matches subdomains of every
entry; each internationalised domain is listed in both its Unicode and its
punycode (xn--) form. Entries that are ICANN public suffixes (by Debian's
publicsuffix list) are dropped, since matching their subdomains would flag
every domain under them. Dropped: {dropped_text}.
""")
print(f"refresh: {pkgjson['name']} {version}: {len(lines)} domains (dropped {dropped_text})")
EOF
