#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the llama.cpp tree that the pinned llama-cpp-python sdist
# vendors (the same llama.cpp as requirements-llama.txt's samplers), once per version: the binary is
# kept outside the repo, under ~/.cache/sampling-explained/llama-server-<version>/ (or
# $SAMPLING_LLAMA_SERVER_DIR), and later calls only print its path. CPU only, no network features
# (no curl, no OpenSSL): it serves a local GGUF file on loopback. Built with llama.cpp's default options,
# as pip builds llama-cpp-python, so that both run the same kernels on the same machine.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
TARGET="${SAMPLING_LLAMA_SERVER_DIR:-$HOME/.cache/sampling-explained/llama-server-$VERSION}"
BINARY="$TARGET/bin/llama-server"
if [ -x "$BINARY" ]; then
  echo "$BINARY"
  exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download --no-deps --no-binary :all: --quiet --dest "$WORK" "llama-cpp-python==$VERSION" >&2
tar -xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SOURCE="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$SOURCE" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >&2
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$TARGET/bin"
cp "$WORK/build/bin/llama-server" "$BINARY.partial"
mv "$BINARY.partial" "$BINARY"
echo "$BINARY"
