"""Reading an MLF: every file of the archive parsed and checked, then assembled into one
version-independent ``Model`` (``model.load_model``). Nothing here plans or writes anything.

``archive`` (path-safe members, limits), ``sniff`` (what a file that is not an MLF is),
``jsonio`` and ``metadata`` (metadata.json of versions 1-7), ``graph`` (the graph JSON),
``relay`` (Relay ``@main``), ``params`` (the params file), ``csource`` and ``elf`` (TVM's C and
objects), ``limits`` (the counts the readers of one archive share), ``aot`` (TVM's AOT header
and the AOT inputs and outputs), ``facts`` (one shape, dtype and size per input and output from
every source), ``model`` (the model and ``load_model``).
"""
