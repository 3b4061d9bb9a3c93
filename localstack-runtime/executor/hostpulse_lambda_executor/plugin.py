"""Entry point LocalStack resolves from the ``localstack.lambda.runtime_executor`` namespace."""

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostProcessExecutorPlugin(RuntimeExecutorPlugin):  # type: ignore[misc]
    name = "hostpulse"

    def load(self, *args: Any, **kwargs: Any) -> type:
        from hostpulse_lambda_executor.executor import HostProcessRuntimeExecutor

        return HostProcessRuntimeExecutor
