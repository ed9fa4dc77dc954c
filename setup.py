"""Only here for cffi: ``cffi_modules`` builds ``native._msm`` during ``pip install``."""

from setuptools import setup

setup(cffi_modules=["native/build_msm.py:ffibuilder"])
