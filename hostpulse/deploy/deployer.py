"""Creates the described stack on LocalStack (or any AWS endpoint) idempotently.

Every step reads what exists first and changes only what differs, so a second deploy reports
no changes, and a change to a function's sources updates exactly that function's code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.deploy.model import PLACEHOLDER, FunctionSpec, QueueSpec, Stack
from hostpulse.deploy.packaging import build_package, code_sha256

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class DeployResult:
    changes: list[str] = field(default_factory=list)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    dead_letter_urls: dict[str, str] = field(default_factory=dict)
    topic_arns: dict[str, str] = field(default_factory=dict)
    function_arns: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    secret_arns: dict[str, str] = field(default_factory=dict)
    api_url: str | None = None
    # Where the functions run as processes: each one's environment, as its Lambda would have it.
    environments: dict[str, dict[str, str]] = field(default_factory=dict)


def response_types(partial_batch_response: bool) -> list[str]:
    """With partial batch responses Lambda retries only the records a handler reports as
    failed; without, it takes a batch whose handler returned as wholly done."""
    return ["ReportBatchItemFailures"] if partial_batch_response else []


def set_response_types(
    mapping_uuid: str, partial_batch_response: bool, region: str, endpoint_url: str | None
) -> None:
    """Sets a trigger's response types in place (Terraform's AWS provider 3.39 cannot)."""
    aws_client("lambda", region, endpoint_url).update_event_source_mapping(
        UUID=mapping_uuid, FunctionResponseTypes=response_types(partial_batch_response)
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Deployer:
    def __init__(
        self,
        stack: Stack,
        endpoint_url: str,
        region: str,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.stack = stack
        self.endpoint_url = endpoint_url
        self.region = region
        self.variables = dict(variables or {})
        self.result = DeployResult()

    def client(self, service: str) -> Any:
        return aws_client(service, self.region, self.endpoint_url)

    def changed(self, what: str) -> None:
        self.result.changes.append(what)

    def provision(self) -> DeployResult:
        """Only what the functions use, not the functions: buckets, queues with their
        dead-letter queues, topics. Where the handlers run as containers (Kubernetes)."""
        for name in self.stack.buckets:
            self._bucket(name)
        for name, queue_spec in self.stack.queues.items():
            self._queue(name, queue_spec)
        for name in self.stack.topics:
            self._topic(name)
        return self.result

    def deploy(self) -> DeployResult:
        role_arn = self._role()
        self.provision()
        for name in self.stack.secrets:
            self._secret(name)
        for name, function_spec in self.stack.functions.items():
            self._function(name, function_spec, role_arn)
        for trigger in self.stack.triggers:
            self._trigger(trigger.queue, trigger.function)
        for rule in self.stack.schedules:
            self._schedule(rule)
        if self.stack.api is not None:
            self._api()
        return self.result

    # -- identity and storage --------------------------------------------------------------

    def _role(self) -> str:
        iam = self.client("iam")
        name = self.stack.physical("lambda")
        try:
            return str(iam.get_role(RoleName=name)["Role"]["Arn"])
        except ClientError as error:
            if _error_code(error) != "NoSuchEntity":
                raise
        self.changed(f"create role {name}")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        return str(role["Role"]["Arn"])

    def _bucket(self, logical: str) -> None:
        s3 = self.client("s3")
        name = self.stack.physical(logical)
        self.result.buckets[logical] = name
        try:
            s3.head_bucket(Bucket=name)
            return
        except ClientError as error:
            if _error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        self.changed(f"create bucket {name}")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region}
            )
        if self.stack.buckets[logical].versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def _secret(self, logical: str) -> None:
        """The secret's value, its placeholders resolved, empty values left out: created, or
        given a new version only when it differs."""
        secrets = self.client("secretsmanager")
        name = self.stack.physical(logical)
        resolved = {key: self._resolve(value) for key, value in self.stack.secrets[logical].items()}
        value = json.dumps({k: v for k, v in resolved.items() if v}, sort_keys=True)
        try:
            current = secrets.get_secret_value(SecretId=name)
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            self.changed(f"create secret {name}")
            self.result.secret_arns[logical] = str(
                secrets.create_secret(Name=name, SecretString=value)["ARN"]
            )
            return
        self.result.secret_arns[logical] = str(current["ARN"])
        if current.get("SecretString") != value:
            self.changed(f"update secret {name}")
            secrets.put_secret_value(SecretId=name, SecretString=value)

    # -- messaging -------------------------------------------------------------------------

    def _ensure_queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if "NonExistentQueue" not in _error_code(error):
                raise
            self.changed(f"create queue {name}")
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        differing = {k: v for k, v in attributes.items() if current.get(k) != v}
        if differing:
            self.changed(f"update queue {name}: {', '.join(sorted(differing))}")
            sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
        return str(url), str(current["QueueArn"])

    def _queue(self, logical: str, spec: QueueSpec) -> None:
        attributes = {
            "VisibilityTimeout": str(spec.visibility_timeout),
            "MessageRetentionPeriod": str(spec.retention_seconds),
        }
        if spec.dead_letter is not None:
            dlq_url, dlq_arn = self._ensure_queue(
                self.stack.dead_letter_name(logical),
                {"MessageRetentionPeriod": str(spec.dead_letter.retention_seconds)},
            )
            self.result.dead_letter_urls[logical] = dlq_url
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn,
                    "maxReceiveCount": spec.dead_letter.max_receive_count,
                },
                separators=(",", ":"),
            )
        url, arn = self._ensure_queue(self.stack.physical(logical), attributes)
        self.result.queue_urls[logical] = url
        self.result.queue_arns[logical] = arn

    def _topic(self, logical: str) -> None:
        sns, sqs = self.client("sns"), self.client("sqs")
        name = self.stack.physical(logical)
        existing = {
            t["TopicArn"].rsplit(":", 1)[1]: t["TopicArn"]
            for page in sns.get_paginator("list_topics").paginate()
            for t in page["Topics"]
        }
        if name not in existing:
            self.changed(f"create topic {name}")
        arn = str(sns.create_topic(Name=name)["TopicArn"])  # idempotent by name
        self.result.topic_arns[logical] = arn
        subscribed = {
            s["Endpoint"]
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
            for s in page["Subscriptions"]
        }
        for subscription in self.stack.topics[logical].subscriptions:
            queue_arn = self.result.queue_arns[subscription.queue]
            policy = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": arn}},
                        }
                    ],
                },
                separators=(",", ":"),
            )
            queue_url = self.result.queue_urls[subscription.queue]
            current = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
            if current.get("Attributes", {}).get("Policy") != policy:
                self.changed(f"allow {name} to send to {subscription.queue}")
                sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
            if queue_arn not in subscribed:
                self.changed(f"subscribe {subscription.queue} to {name}")
                sns.subscribe(
                    TopicArn=arn,
                    Protocol="sqs",
                    Endpoint=queue_arn,
                    Attributes={"RawMessageDelivery": "true"},
                )

    # -- functions -------------------------------------------------------------------------

    def _resolve(self, value: str) -> str:
        def substitute(match: Any) -> str:
            kind, ref = match.group(1), match.group(2)
            lookups: dict[str, dict[str, str]] = {
                "queue": self.result.queue_urls,
                "dlq": self.result.dead_letter_urls,
                "topic": self.result.topic_arns,
                "bucket": self.result.buckets,
                "secret": self.result.secret_arns,
            }
            if ref is None and kind in self.variables:
                return self.variables[kind]
            if ref is not None and ref in lookups.get(kind, {}):
                return lookups[kind][ref]
            raise KeyError(f"unknown placeholder {match.group(0)} in the stack description")

        return PLACEHOLDER.sub(substitute, value)

    def environment_of(self, logical: str) -> dict[str, str]:
        """A function's environment as deployed (also where it runs as a process)."""
        spec = self.stack.functions[logical]
        return {key: self._resolve(value) for key, value in spec.environment.items()}

    def _function(self, logical: str, spec: FunctionSpec, role_arn: str) -> None:
        lam = self.client("lambda")
        name = self.stack.physical(logical)
        package = build_package(spec, self.stack.base_dir)
        wanted = {
            "Runtime": self.stack.runtime,
            "Handler": spec.handler,
            "MemorySize": spec.memory,
            "Timeout": spec.timeout,
            "Role": role_arn,
            "Environment": {"Variables": self.environment_of(logical)},
        }
        try:
            current = lam.get_function_configuration(FunctionName=name)
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            self.changed(f"create function {name}")
            created = lam.create_function(FunctionName=name, Code={"ZipFile": package}, **wanted)
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
            self.result.function_arns[logical] = str(created["FunctionArn"])
            return
        self.result.function_arns[logical] = str(current["FunctionArn"])
        if current.get("CodeSha256") != code_sha256(package):
            self.changed(f"update code of {name}")
            lam.update_function_code(FunctionName=name, ZipFile=package)
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        current_env = current.get("Environment", {}).get("Variables", {})
        differs = [
            key
            for key, value in wanted.items()
            if (current_env if key == "Environment" else current.get(key))
            != (value["Variables"] if key == "Environment" else value)  # type: ignore[index]
        ]
        if differs:
            self.changed(f"update configuration of {name}: {', '.join(differs)}")
            lam.update_function_configuration(FunctionName=name, **wanted)
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    def _permission(self, function: str, statement: str, principal: str, source_arn: str) -> None:
        lam = self.client("lambda")
        name = self.stack.physical(function)
        try:
            policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
            if any(s.get("Sid") == statement for s in policy.get("Statement", [])):
                return
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
        self.changed(f"allow {principal} to invoke {name}")
        lam.add_permission(
            FunctionName=name,
            StatementId=statement,
            Action="lambda:InvokeFunction",
            Principal=principal,
            SourceArn=source_arn,
        )

    def _trigger(self, queue: str, function: str) -> None:
        lam = self.client("lambda")
        spec = next(t for t in self.stack.triggers if (t.queue, t.function) == (queue, function))
        name = self.stack.physical(function)
        wanted: dict[str, Any] = {
            "BatchSize": spec.batch_size,
            "MaximumBatchingWindowInSeconds": spec.batching_window_seconds,
            "FunctionResponseTypes": response_types(spec.partial_batch_response),
        }
        source = self.result.queue_arns[queue]
        mappings = lam.list_event_source_mappings(EventSourceArn=source, FunctionName=name)
        existing = mappings.get("EventSourceMappings", [])
        if not existing:
            self.changed(f"trigger {name} from {queue}")
            lam.create_event_source_mapping(
                EventSourceArn=source, FunctionName=name, Enabled=True, **wanted
            )
            return
        mapping = existing[0]
        if any(
            mapping.get(key, [] if key == "FunctionResponseTypes" else None) != value
            for key, value in wanted.items()
        ):
            self.changed(f"update trigger {name} from {queue}")
            lam.update_event_source_mapping(UUID=mapping["UUID"], **wanted)

    def _schedule(self, logical: str) -> None:
        events = self.client("events")
        spec = self.stack.schedules[logical]
        rule = self.stack.physical(logical)
        try:
            current = events.describe_rule(Name=rule)
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            current = {}
        if (
            current.get("ScheduleExpression") != spec.expression
            or current.get("State") != "ENABLED"
        ):
            self.changed(f"schedule {rule} {spec.expression}")
            events.put_rule(Name=rule, ScheduleExpression=spec.expression, State="ENABLED")
        rule_arn = str(events.describe_rule(Name=rule)["Arn"])
        function_arn = self.result.function_arns[spec.function]
        target: dict[str, str] = {"Id": "function", "Arn": function_arn}
        if spec.input is not None:
            target["Input"] = spec.input
        targets = events.list_targets_by_rule(Rule=rule).get("Targets", [])
        if [{k: t.get(k) for k in target} for t in targets] != [target]:
            self.changed(f"target {rule} at {spec.function}")
            events.put_targets(Rule=rule, Targets=[target])
        self._permission(spec.function, f"{rule}-schedule", "events.amazonaws.com", rule_arn)

    # -- API Gateway (REST, proxy integration) ---------------------------------------------

    def _api(self) -> None:
        assert self.stack.api is not None
        apigw = self.client("apigateway")
        name = self.stack.name
        apis = [a for a in apigw.get_rest_apis(limit=500).get("items", []) if a["name"] == name]
        binary_types = self.stack.api.binary_media_types
        if apis:
            api_id = apis[0]["id"]
            missing = sorted(set(binary_types) - set(apis[0].get("binaryMediaTypes", [])))
            if missing:
                self.changed(f"binary media types of REST API {name}")
                apigw.update_rest_api(
                    restApiId=api_id,
                    patchOperations=[
                        # "/" in a media type is written "~1" in a JSON patch path
                        {"op": "add", "path": f"/binaryMediaTypes/{t.replace('/', '~1')}"}
                        for t in missing
                    ],
                )
        else:
            self.changed(f"create REST API {name}")
            api_id = apigw.create_rest_api(
                name=name,
                endpointConfiguration={"types": ["REGIONAL"]},
                binaryMediaTypes=binary_types,
                # LocalStack keeps nothing across restarts; with a fixed ID the ingest URL an
                # agent was given stays the same after `hostpulse down` and `up`.
                tags={"_custom_id_": name},
            )["id"]
        resources = {
            r["path"]: r
            for r in apigw.get_resources(restApiId=api_id, limit=500, embed=["methods"])["items"]
        }
        api_changed = False
        for route in self.stack.api.routes:
            resource_id = self._resource(apigw, api_id, resources, route.path)
            function_arn = self.result.function_arns[route.function]
            uri = (
                f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
                f"{function_arn}/invocations"
            )
            methods = resources[route.path].get("resourceMethods") or {}
            integration_uri = None
            if route.method in methods:
                try:
                    integration_uri = apigw.get_integration(
                        restApiId=api_id, resourceId=resource_id, httpMethod=route.method
                    ).get("uri")
                except ClientError:
                    integration_uri = None
            if integration_uri != uri:
                api_changed = True
                self.changed(f"route {route.method} {route.path} to {route.function}")
                if route.method not in methods:
                    apigw.put_method(
                        restApiId=api_id,
                        resourceId=resource_id,
                        httpMethod=route.method,
                        authorizationType="NONE",
                    )
                apigw.put_integration(
                    restApiId=api_id,
                    resourceId=resource_id,
                    httpMethod=route.method,
                    type="AWS_PROXY",
                    integrationHttpMethod="POST",
                    uri=uri,
                )
            source = f"arn:aws:execute-api:{self.region}:*:{api_id}/*/*"
            self._permission(
                route.function, f"{name}-api-{route.function}", "apigateway.amazonaws.com", source
            )
        stage = self.stack.api.stage
        stages = {s["stageName"] for s in apigw.get_stages(restApiId=api_id).get("item", [])}
        if api_changed or stage not in stages:
            self.changed(f"deploy REST API {name} to stage {stage}")
            apigw.create_deployment(restApiId=api_id, stageName=stage)
        self.result.api_url = f"{self.endpoint_url}/_aws/execute-api/{api_id}/{stage}"

    def _resource(
        self, apigw: Any, api_id: str, resources: dict[str, dict[str, Any]], path: str
    ) -> str:
        if path in resources:
            return str(resources[path]["id"])
        parent_path = path.rsplit("/", 1)[0] or "/"
        parent_id = self._resource(apigw, api_id, resources, parent_path)
        self.changed(f"create API resource {path}")
        created = apigw.create_resource(
            restApiId=api_id, parentId=parent_id, pathPart=path.rsplit("/", 1)[1]
        )
        resources[path] = {**created, "resourceMethods": {}}
        return str(created["id"])
