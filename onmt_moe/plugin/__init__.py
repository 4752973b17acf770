"""Everything that imports OpenNMT: the patches, options, encoder, loss, transforms, reporting hooks,
the autoload hook installer and the wrapper commands.

May import: OpenNMT, torch, ``onmt_moe.moe``, ``onmt_moe.modality``, ``onmt_moe.runfolder`` (the CSV logs'
names and columns, ``CsvLog``, the checkpoint allowlist) and the shared leaves (``onmt_moe.wurcs_classes`` for the structure-aware loss). Nothing here is imported
by ``import onmt_moe`` until ``onmt`` itself is imported (see ``onmt_moe._hook``).
"""
