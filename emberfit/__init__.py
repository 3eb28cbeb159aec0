"""emberfit: fast.ai course v3 lesson 4 (ULMFiT, tabular, collaborative filtering) on today's PyTorch.

The lesson's star imports live in the application facades:
``from emberfit.text import *``, ``from emberfit.tabular import *``, ``from emberfit.collab import *``.
"""

__version__ = "0.1.0"
