# Put on PYTHONPATH (bench/run.ts --remote-codec pure) to hide an installed msgpack from the remote
# interpreter, so that our remote uses its pure-Python codec, as on a machine without msgpack.
raise ImportError("msgpack is hidden by bench/pure-codec (pure-Python codec benchmark)")
