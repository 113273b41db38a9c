"""fscc: an open-source multimedia contact-center engine that lives inside FreeSWITCH.

`fs_scripts` holds what runs with FreeSWITCH: the Event Socket layer, call control,
the `fscc serve` composition root, the mod_python3 entry points and the command line.
"""

__version__ = "0.1.0"
