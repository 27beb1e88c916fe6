"""The local demo: `make run` (``manage.py rundemo``) and its set-up on the PVE simulator.

Development tooling like the simulator: installed by the local and test settings only, and kept
out of the production wheel. It wires the apps together the way staff would, through their
services; it knows none of their internals.
"""
