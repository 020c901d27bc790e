"""The suite's plugin: options (--env, --env-file, --allow-writes), markers, skips, report."""

pytest_plugins = ["smoke.plugin"]
