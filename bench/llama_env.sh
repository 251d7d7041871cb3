#!/usr/bin/env bash
# A benchmark-only environment with llama.cpp (llama-cpp-python built from its PyPI sdist),
# the peer that Ollama, Tabby and llama.vim run on CPUs. Used by `python -m bench.latency`
# (section "llama.cpp"); never by the product or its tests.
#
#   bash bench/llama_env.sh        creates bench/.venv-llama (about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv-llama/bin/python ] || "$python" -m venv .venv-llama
# Built here for this CPU (GGML_NATIVE), as a user's `pip install llama-cpp-python` does.
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    .venv-llama/bin/python -m pip install -q --no-binary llama-cpp-python \
    llama-cpp-python==0.3.36
.venv-llama/bin/python -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)'
