"""Reasoning evaluation: reasoning steps (shared by the renderer, the review page and the judge-based
reasoning scores) and the ChestX-Reasoner-style judge scores (`xraybench reasoning-score`)."""
