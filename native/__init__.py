"""The Xenon MSM security module in C; its compiled cffi module is ``native._msm``.

Only :mod:`xps.msm` imports ``native._msm``; everything else uses that typed API.
"""
