"""FreeSWITCH configuration from fscc.yaml (`fscc conf render` / `fscc conf check`).

    config.py    the `deploy:` settings section (types and per-value rules)
    escaping.py  XML / dialplan escaping of YAML values (pure)
    model.py     cross-section validation and the render model (pure)
    render.py    sandboxed Jinja templates (conf/freeswitch/, dialplan/) -> files
    cli.py       the click group `conf`
"""
