# Sourced by bin/run and bin/test (not a command): make or reuse the project's
# virtual environment .venv and install a requirements file into it, so that
# neither needs root nor touches the system's Python.
#
#   use_venv requirements.txt    then "$VENV_PYTHON" is .venv's python
#
# PYTHON names the Python that makes .venv (default python3); it must be 3.11+.

MIN_PYTHON="3.11"

_python_is_new_enough() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

use_venv() {
  local requirements=$1 me base venv=.venv
  me=bin/$(basename "$0")
  base=${PYTHON:-python3}

  if ! _python_is_new_enough "$venv/bin/python"; then
    if ! command -v "$base" >/dev/null 2>&1; then
      echo "$me: needs Python $MIN_PYTHON or newer, and '$base' was not found." >&2
      echo "  Install it (Debian/Ubuntu: apt-get install python3 python3-venv)," \
           "or name one: PYTHON=/path/to/python3.12 $me" >&2
      exit 1
    fi
    if ! _python_is_new_enough "$base"; then
      echo "$me: needs Python $MIN_PYTHON or newer; '$base' is" \
           "$("$base" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unknown)" \
           "($(command -v "$base"))." >&2
      echo "  Install a newer one and name it: PYTHON=/path/to/python3.12 $me" >&2
      exit 1
    fi
    if [ -e "$venv" ]; then
      # Made by another user or another Python (one no longer there): make it anew.
      echo "$me: $venv does not work here; making it again with $(command -v "$base")"
    else
      echo "$me: making the project's virtual environment $venv with $(command -v "$base")"
    fi
    if ! "$base" -m venv --clear "$venv"; then
      echo "$me: could not make $venv (Debian/Ubuntu: apt-get install python3-venv)." >&2
      exit 1
    fi
  fi
  VENV_PYTHON="$PWD/$venv/bin/python"
  "$VENV_PYTHON" -m pip install --disable-pip-version-check -q -r "$requirements"
}
