"""moto's server plus the two Auto Scaling actions the lifecycle drain needs and moto lacks.

    python moto_launcher.py [--port 0]

Prints `LISTENING <port>` once it listens (port 0: the OS picks one, so parallel tests never race
for a port).

Adds to moto 5.2.5 (pinned in requirements.txt: this patches its internals):
- CompleteLifecycleAction and RecordLifecycleActionHeartbeat, faithful where the drain depends on
  them: an action is active from the test's seeding until completed; completing or heartbeating an
  action that is not active answers ValidationError as AWS does. Every call is recorded.
- POST /moto-api/lifecycle/actions  {AutoScalingGroupName, LifecycleHookName, InstanceId,
  LifecycleActionToken}: seed an active action (the part of Auto Scaling that starts one).
- GET  /moto-api/lifecycle/actions: {"active": [...], "calls": [...]} for assertions.
- POST /moto-api/reset also clears both.
- POST /moto-api/ecs/container-instance  {containerInstanceArn, status?, agentConnected?}: put a
  container instance in a state moto never reaches on its own (REGISTERING; an agent disconnected).
- SNS email, email-json and SMS subscriptions: moto sends nothing for them (no SMTP, no SMS from a
  topic). What SNS would send each one, chosen by moto itself (with MessageStructure json, the value
  of the protocol's key, else `default`), is recorded instead of being dropped:
  GET /moto-api/sns/unsent: {"unsent": [{Protocol, Endpoint, TopicArn, MessageId, Subject, Message}]}.
- POST /moto-api/ecs/service-deployments  {cluster, service, deployments: [...], account?, region?}: set a service's
  `deployments` as ECS lists them after a circuit breaker's rollback (the rolled-back-to deployment
  PRIMARY, the failed one ACTIVE with rolloutState FAILED); moto keeps one deployment per service.
- POST /moto-api/ecs/service-events  {cluster, service, events: [{id, createdAt (epoch seconds), message}],
  account?, region?}: set a service's `events` as ECS writes them (moto never writes any).
- ECS where the drain depends on it and moto is permissive: UpdateContainerInstancesState refuses
  DRAINING for an instance that is not ACTIVE, and StopTask on an instance whose agent is
  disconnected sets desiredStatus STOPPED but leaves lastStatus as it was.
"""

import argparse
import json
import threading
import time
from datetime import datetime, timezone

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.moto_api._internal import urls as moto_api_urls
from moto.moto_api._internal.responses import MotoAPIResponse
from moto.sns.models import Subscription
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

_lock = threading.Lock()
_active = []  # dicts: AutoScalingGroupName, LifecycleHookName, InstanceId, LifecycleActionToken
_calls = []  # one dict per CompleteLifecycleAction / RecordLifecycleActionHeartbeat call
_unsent = []  # one dict per notification to an email, email-json or SMS subscription


def _find_active(hook, group, token, instance_id):
    for action in _active:
        if action["LifecycleHookName"] != hook or action["AutoScalingGroupName"] != group:
            continue
        if token and action["LifecycleActionToken"] == token:
            return action
        if not token and instance_id and action["InstanceId"] == instance_id:
            return action
    return None


def _lifecycle_call(response, name, complete):
    hook = response._get_param("LifecycleHookName")
    group = response._get_param("AutoScalingGroupName")
    token = response._get_param("LifecycleActionToken")
    instance_id = response._get_param("InstanceId")
    result = response._get_param("LifecycleActionResult")
    call = {
        "Action": name,
        "LifecycleHookName": hook,
        "AutoScalingGroupName": group,
        "LifecycleActionToken": token,
        "InstanceId": instance_id,
        "LifecycleActionResult": result,
        "Time": time.time(),
    }
    with _lock:
        action = _find_active(hook, group, token, instance_id)
        call["Outcome"] = "ok" if action else "ValidationError"
        _calls.append(call)
        if action and complete:
            _active.remove(action)
    if action is None:
        # AWS's wording for both actions when nothing is pending.
        what = f"token {token}" if token else f"instance ID {instance_id}"
        raise ValidationError(f"No active Lifecycle Action found with {what}")
    return EmptyResult()


def complete_lifecycle_action(self):
    return _lifecycle_call(self, "CompleteLifecycleAction", complete=True)


def record_lifecycle_action_heartbeat(self):
    return _lifecycle_call(self, "RecordLifecycleActionHeartbeat", complete=False)


def lifecycle_actions(request, full_url, headers):
    if request.method == "POST":
        body = json.loads(request.get_data() or b"{}")
        keys = ("AutoScalingGroupName", "LifecycleHookName", "InstanceId", "LifecycleActionToken")
        missing = [k for k in keys if not body.get(k)]
        if missing:
            return 400, {}, json.dumps({"Error": f"missing {', '.join(missing)}"})
        with _lock:
            _active.append({k: body[k] for k in keys})
        return 201, {}, json.dumps({"status": "ok"})
    with _lock:
        return 200, {"Content-Type": "application/json"}, json.dumps({"active": _active, "calls": _calls})


_original_reset = MotoAPIResponse.reset_response


def reset_response(self, request, full_url, headers):
    if request.method == "POST":
        with _lock:
            _active.clear()
            _calls.clear()
            _unsent.clear()
    return _original_reset(self, request, full_url, headers)


def _container_instance(arn):
    """moto's ContainerInstance for `arn:aws:ecs:<region>:<account>:container-instance/[cluster/]<id>`."""
    parts = arn.split(":")
    if len(parts) != 6 or not parts[5].startswith("container-instance/"):
        return None
    backend = ecs_backends[parts[4]][parts[3]]
    for instances in backend.container_instances.values():
        if parts[5].split("/")[-1] in instances:
            return instances[parts[5].split("/")[-1]]
    return None


def container_instance_state(request, full_url, headers):
    """Set what real ECS sets and moto never does. `status` REGISTERING: with awsvpcTrunking on, a
    new instance is REGISTERING while its trunk ENI is attached, and no task is placed on it until
    ACTIVE (API reference, ContainerInstance `status`). `agentConnected` false: the agent is
    unhealthy or stopped (ContainerInstance `agentConnected`); nothing reports the instance's task
    state changes any more (see stop_task below)."""
    body = json.loads(request.get_data() or b"{}")
    instance = _container_instance(body.get("containerInstanceArn", ""))
    if instance is None:
        return 404, {}, json.dumps({"Error": f"no container instance {body.get('containerInstanceArn')!r}"})
    if "status" in body:
        instance.status = body["status"]
    if "agentConnected" in body:
        instance.agent_connected = bool(body["agentConnected"])
    return 200, {"Content-Type": "application/json"}, json.dumps({"status": instance.status,
                                                                  "agentConnected": instance.agent_connected})


def service_deployments(request, full_url, headers):
    """A service's deployments as real ECS lists them mid-rollback (API reference, Deployment):
    each given dict replaces moto's list as is, `taskDefinition` ARNs included."""
    body = json.loads(request.get_data() or b"{}")
    backend = ecs_backends[body.get("account", "123456789012")][body.get("region", "us-east-1")]
    service = backend.services.get(f"{body.get('cluster')}:{body.get('service')}")
    if service is not None:
        service.deployments = body.get("deployments", [])
        return 200, {"Content-Type": "application/json"}, json.dumps({"deployments": len(service.deployments)})
    return 404, {}, json.dumps({"Error": f"no service {body.get('service')!r} in cluster {body.get('cluster')!r}"})


def service_events(request, full_url, headers):
    """A service's event messages as the service scheduler writes them (API reference, Service
    `events`, ServiceEvent: id, createdAt, message); moto keeps the list and never adds to it."""
    body = json.loads(request.get_data() or b"{}")
    backend = ecs_backends[body.get("account", "123456789012")][body.get("region", "us-east-1")]
    service = backend.services.get(f"{body.get('cluster')}:{body.get('service')}")
    if service is None:
        return 404, {}, json.dumps({"Error": f"no service {body.get('service')!r} in cluster {body.get('cluster')!r}"})
    service.events = [
        {"id": e["id"], "message": e["message"],
         "createdAt": datetime.fromtimestamp(e["createdAt"], timezone.utc).replace(tzinfo=None)}
        for e in body.get("events", [])
    ]
    return 200, {"Content-Type": "application/json"}, json.dumps({"events": len(service.events)})


_original_update_state = EC2ContainerServiceBackend.update_container_instances_state


def update_container_instances_state(self, cluster_str, list_container_instance_ids, status):
    """AWS: "A container instance can't be changed to DRAINING until it has reached an ACTIVE
    status. If the instance is in any other status, an error will be received" (API reference,
    UpdateContainerInstancesState). The page names no error code or wording: this answers
    InvalidParameterException, one of the action's documented errors, with our own message."""
    if (status or "").upper() == "DRAINING":
        cluster = self._get_cluster(cluster_str)
        for ref in list_container_instance_ids:
            instance = self.container_instances.get(cluster.name, {}).get(ref.split("/")[-1])
            if instance is not None and instance.status not in ("ACTIVE", "DRAINING"):
                raise InvalidParameterException(
                    f"Container instance {ref} is {instance.status}: it can be set to DRAINING once it is ACTIVE"
                )
    return _original_update_state(self, cluster_str, list_container_instance_ids, status)


_original_stop_task = EC2ContainerServiceBackend.stop_task


def stop_task(self, cluster_str, task_str, reason):
    """StopTask records the desired status; it is the agent that stops the task and reports
    STOPPED (SubmitTaskStateChange; developer guide, "Amazon ECS task state change events"). On
    an instance whose agent is disconnected, the task keeps its lastStatus."""
    cluster = self._get_cluster(cluster_str)
    task = next((t for arn, t in self.tasks.get(cluster.name, {}).items() if arn.endswith(task_str.split("/")[-1])), None)
    last = task.last_status if task is not None else None
    stopped = _original_stop_task(self, cluster_str, task_str, reason)
    instance = _container_instance(stopped.container_instance_arn or "")
    if instance is not None and not instance.agent_connected and last is not None:
        stopped.last_status = last
    return stopped


_UNSENT_PROTOCOLS = ("email", "email-json", "sms")
_original_subscription_publish = Subscription.publish


def subscription_publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
                         deduplication_id=None, message_structure=None):
    """moto's own delivery first (which, for these protocols, picks the message and sends nothing);
    then the message it picked, recorded. The same filter-policy check as moto's, so a subscription
    that would not get the notification records none."""
    _original_subscription_publish(self, message, message_id, subject=subject, message_attributes=message_attributes,
                                   group_id=group_id, deduplication_id=deduplication_id,
                                   message_structure=message_structure)
    if self.protocol not in _UNSENT_PROTOCOLS:
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    with _lock:
        _unsent.append({"Protocol": self.protocol, "Endpoint": self.endpoint, "TopicArn": self.topic.arn,
                        "MessageId": message_id, "Subject": subject, "Message": message})


def sns_unsent(request, full_url, headers):
    with _lock:
        return 200, {"Content-Type": "application/json"}, json.dumps({"unsent": _unsent})


Subscription.publish = subscription_publish
EC2ContainerServiceBackend.update_container_instances_state = update_container_instances_state
EC2ContainerServiceBackend.stop_task = stop_task
AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
MotoAPIResponse.reset_response = reset_response
moto_api_urls.url_paths["{0}/moto-api/reset"] = moto_api_urls.response_instance.reset_response
moto_api_urls.url_paths["{0}/moto-api/lifecycle/actions"] = lifecycle_actions
moto_api_urls.url_paths["{0}/moto-api/ecs/container-instance"] = container_instance_state
moto_api_urls.url_paths["{0}/moto-api/ecs/service-deployments"] = service_deployments
moto_api_urls.url_paths["{0}/moto-api/sns/unsent"] = sns_unsent
moto_api_urls.url_paths["{0}/moto-api/ecs/service-events"] = service_events

def main():
    # moto.server.main, less its fixed port: the same app and request handler.
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=0)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"LISTENING {server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
