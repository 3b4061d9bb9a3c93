"""The one place that builds components: each service from its settings, once per execution
environment (``components``, kept by ``lazy``), the adapters the CLI and the local cloud need
from a URL (``by_url``), and the Logger, Metrics and counters of every function
(``observability``). Entry points ask here and never build adapters themselves."""

from hostpulse.adapters.aws.secrets import read_secret_values
from hostpulse.core.settings import read_secrets_with

# Every component that builds its settings has come through here: a secret the environment
# names is read with the adapter's client.
read_secrets_with(read_secret_values)
