"""cffi builder (API mode, out-of-line) for ``native._msm``.

The cdef is derived from ``native/include/msm.h`` itself, so the header stays the
one ABI: preprocessor guards and includes are dropped and every ``#define NAME
value`` becomes ``#define NAME ...`` (cffi reads the value from the compiled C).
Run directly (``python native/build_msm.py``) to build the module in place.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
INCLUDE = HERE / "include"
SRC = HERE / "src"

_DEFINE = re.compile(r"^#define\s+(\w+)\s+\S.*$")


def cdef_from_header(text: str) -> str:
    """Turns msm.h into text that ``FFI.cdef`` accepts."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    values: dict[str, int] = {}
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            m = _DEFINE.match(stripped)
            if m and m.group(1) != "XENON_MSM_H":
                out.append(f"#define {m.group(1)} ...")
                num = stripped.split()[2].rstrip("uUlL")
                if re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", num):
                    values[m.group(1)] = int(num, 0)
            continue
        out.append(line)
    # cffi wants array lengths as plain numbers, not macro names.
    return re.sub(r"\[(\w+)\]", lambda m: f"[{values.get(m.group(1), m.group(1))}]", "\n".join(out))


def sources() -> list[str]:
    """C sources relative to the project root (setuptools wants relative paths)."""
    root = HERE.parent
    return sorted(str(p.relative_to(root)) for p in SRC.glob("*.c"))


ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header((INCLUDE / "msm.h").read_text()))
ffibuilder.set_source(
    "native._msm",
    '#include "msm.h"\n',
    sources=sources(),
    include_dirs=[str(INCLUDE), str(SRC)],
    extra_compile_args=[
        "-O2",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror=implicit-function-declaration",
        "-fvisibility=hidden",
        "-D_GNU_SOURCE",
    ],
    libraries=["dl"],
)

if __name__ == "__main__":
    import os

    os.chdir(HERE.parent)
    out = ffibuilder.compile(tmpdir="build/cffi", verbose="-v" in sys.argv)
    # compile() leaves the .so under build/cffi/native/; copy it next to this file.
    import shutil

    built = Path(out)
    shutil.copy2(built, HERE / built.name)
    print(HERE / built.name)
