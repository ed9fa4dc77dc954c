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


def sources(absolute: bool = False) -> list[str]:
    """C sources; relative to the project root for setuptools, absolute for a direct build."""
    root = HERE.parent
    files = sorted(SRC.glob("*.c"))
    return [str(p) if absolute else str(p.relative_to(root)) for p in files]


def make_ffi(
    absolute: bool = False, module: str = "native._msm", defines: tuple[str, ...] = ()
) -> FFI:
    """The cffi builder; ``absolute`` when compiling from another working directory.

    ``module`` and ``defines`` (``-D`` flags without the ``-D``) are for test builds only
    (:func:`build_test_module`); the shipped module is ``native._msm`` with none.
    """
    ffi = FFI()
    ffi.cdef(cdef_from_header((INCLUDE / "msm.h").read_text()))
    ffi.set_source(
        module,
        '#include "msm.h"\n',
        sources=sources(absolute),
        include_dirs=[str(INCLUDE), str(SRC)],
        depends=[str(p) for p in sorted(SRC.glob("*.h")) + sorted(INCLUDE.glob("*.h"))],
        extra_compile_args=[
            "-O2",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror=implicit-function-declaration",
            "-fvisibility=hidden",
            "-pthread",
            "-D_GNU_SOURCE",
            *(f"-D{d}" for d in defines),
        ],
        extra_link_args=["-pthread"],
        libraries=["dl"],
    )
    return ffi


ffibuilder = make_ffi()


def build_test_module(tmpdir: Path, module: str, defines: tuple[str, ...]) -> Path:
    """Compiles a test build of the module (e.g. ``MSM_TEST_INJECT_BUG=1``) into ``tmpdir``.

    Never shipped: the tests load it from ``tmpdir`` by path under its own name, beside
    the real ``native._msm``. Returns the path of the shared object.
    """
    if not re.fullmatch(r"[A-Za-z_]\w*", module):
        raise ValueError(f"not a plain module name: {module!r}")
    ffi = make_ffi(absolute=True, module=module, defines=defines)
    return Path(ffi.compile(tmpdir=str(tmpdir)))


if __name__ == "__main__":
    import os

    os.chdir(HERE.parent)
    out = make_ffi(absolute=True).compile(tmpdir="build/cffi", verbose="-v" in sys.argv)
    # compile() leaves the .so under build/cffi/native/; copy it next to this file.
    import shutil

    built = Path(out)
    shutil.copy2(built, HERE / built.name)
    print(HERE / built.name)
