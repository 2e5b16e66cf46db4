#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy into $2 (a versioned file name).
# `go install k8s.io/kubernetes/cmd/kube-apiserver@vX` is refused because the
# module's go.mod has replace directives (its staging repositories), so this
# makes a scratch module that requires k8s.io/kubernetes and points every
# staging module at its published v0.X release instead.
# About 10 minutes on 2 cores the first time; the result is cached by the caller.
set -euo pipefail
version=$1   # e.g. v1.37.2
out=$2
go=${GO:-go}
staging=v0.${version#v1.}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$go" mod init ghostwire.local/kube-apiserver-build >/dev/null 2>&1
"$go" mod download -json "k8s.io/kubernetes@$version" >mod.json
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' mod.json)
{
	echo "require k8s.io/kubernetes $version"
	# "k8s.io/api => ./staging/src/k8s.io/api" becomes "k8s.io/api => k8s.io/api v0.X.Y"
	sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#replace \1 => \1 '"$staging"'#p' "$dir/go.mod"
} >>go.mod
# go 1.26 toolchain line as the kubernetes module asks
goline=$(sed -n 's/^go \(.*\)/\1/p' "$dir/go.mod")
"$go" mod edit -go="$goline"
printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
"$go" mod tidy >/dev/null
mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 "$go" build -trimpath \
	-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "${staging#v0.}" | cut -d. -f1)" \
	-o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$out.tmp" "$out"
echo "built $out"
