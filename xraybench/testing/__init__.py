"""Test helpers shipped with the package so that tests of every component (and users' own tests) share them:
a tiny randomly initialised Qwen2.5-VL built offline, and a local OpenAI-compatible server with scriptable faults.
"""
