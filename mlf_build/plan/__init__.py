"""Planning: where every tensor of a run lives and how big the arena must be (``plan``), from
the model the readers assembled; ``packing`` places buffers with lifetimes. Nothing here reads
the archive or writes a file.
"""
