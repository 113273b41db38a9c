"""From the `acd:` settings to a validated routing plan (pure).

Why "routing queues": a workflow target may narrow a queue with its own worker expression
(`billing` but only `skills.billing >= 5`). Matching must stay O(log n), so such a target
becomes a routing queue of its own (`billing+1a2b3c4d`), with the AND of both expressions
as its target. Worker eligibility is computed against every routing queue when a worker's
attributes change (`eligible_queues`), never at match time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from acd.config import AcdSettings, AgentSettings
from acd.errors import ExprError, RoutingConfigError
from acd.expr import Expression, compile_expr
from acd.model import DEFAULT_CAPACITY, PRIORITY_MAX, Filter, Queue, Target, Workflow
from acd.tiers import DEFAULT_PRIORITY, Tier

DEFAULT_PRIORITY_NO_TIER = 50


@dataclass(frozen=True)
class Step:
    """A resolved workflow target: the routing queue a task waits in, and for how long."""

    routing_queue: str
    timeout_s: float
    skip_if_no_workers: bool
    priority: int | None


@dataclass(frozen=True)
class RoutingPlan:
    queues: Mapping[str, Queue]  # routing queue key -> queue (derived ones carry the combined target)
    base_of: Mapping[str, str]  # routing queue key -> configured queue name
    expressions: Mapping[str, Expression]
    workflows: Mapping[str, tuple[Filter, ...]]
    workflow_filters: Mapping[str, tuple[tuple[Expression, tuple[Step, ...]], ...]]
    default_queue: Mapping[str, str] = field(default_factory=dict)
    tier_priority: Mapping[int, int] = field(default_factory=dict)

    def eligible_queues(self, worker_attributes: Mapping[str, Any]) -> list[str]:
        return sorted(key for key, expr in self.expressions.items() if expr.matches(worker_attributes))

    def route(self, workflow: str, task_attributes: Mapping[str, Any]) -> tuple[Step, ...]:
        """The ordered steps for a task: the first filter that matches, else the default queue."""
        if workflow not in self.workflow_filters:
            raise RoutingConfigError(f"unknown workflow {workflow!r} (known: {', '.join(sorted(self.workflow_filters)) or 'none'})")
        for expression, steps in self.workflow_filters[workflow]:
            if expression.matches(task_attributes):
                return steps
        default = self.default_queue.get(workflow, "")
        if default:
            return (Step(default, 0.0, False, None),)
        raise RoutingConfigError(f"workflow {workflow!r}: no filter matches the task and there is no default_queue")

    def steps_for_queue(self, queue: str) -> tuple[Step, ...]:
        """Direct enqueue into a configured queue, bypassing workflows."""
        if queue not in self.queues:
            raise RoutingConfigError(f"unknown queue {queue!r} (known: {', '.join(sorted(self.base_of.values())) or 'none'})")
        return (Step(queue, 0.0, False, None),)

    def priority(self, task_attributes: Mapping[str, Any]) -> int:
        """Explicit `priority` attribute, else from the customer tier, else the middle."""
        if "priority" in task_attributes:
            return max(0, min(PRIORITY_MAX, int(task_attributes["priority"])))
        if task_attributes.get("tier") not in (None, ""):
            tier = Tier.parse(task_attributes["tier"])
            return self.tier_priority.get(int(tier), DEFAULT_PRIORITY[tier])
        return DEFAULT_PRIORITY_NO_TIER


def worker_attributes(agent_id: str, agent: AgentSettings) -> dict[str, Any]:
    """What target expressions see of an agent: skills, languages, its extra attributes and id."""
    attributes: dict[str, Any] = dict(agent.attributes)
    attributes.update({"id": agent_id, "skills": dict(agent.skills), "languages": list(agent.languages)})
    return attributes


def agent_capacity(agent: AgentSettings) -> dict[str, int]:
    return {channel: int(n) for channel, n in (agent.capacity or {"voice": DEFAULT_CAPACITY["voice"]}).items()}


def _derived_key(queue: str, expression: str) -> str:
    digest = hashlib.sha1(expression.strip().encode("utf-8")).hexdigest()[:8]
    return f"{queue}+{digest}"


def build_plan(settings: AcdSettings) -> RoutingPlan:
    """Validate the `acd:` section; RoutingConfigError lists every problem with its key path."""
    problems: list[str] = []
    queues: dict[str, Queue] = {}
    base_of: dict[str, str] = {}
    expressions: dict[str, Expression] = {}

    def compile_at(path: str, source: str) -> Expression | None:
        try:
            return compile_expr(source)
        except ExprError as exc:
            problems.append(f"{path}: column {exc.column}: {exc.message} in {source!r}")
            return None

    for name, q in settings.queues.items():
        if "+" in name or ":" in name or not name:
            problems.append(f"acd.queues.{name}: a queue name may not be empty or contain '+' or ':'")
            continue
        expr = compile_at(f"acd.queues.{name}.target", q.target)
        queues[name] = Queue(
            name=name, target=q.target, strategy=q.strategy, order=q.order,
            ranking_skill=q.ranking_skill or name, ring_all_max=q.ring_all_max, wrapup_s=q.wrapup_s,
            reservation_timeout_s=q.reservation_timeout_s, service_level_s=q.service_level_s,
        )
        base_of[name] = name
        if expr is not None:
            expressions[name] = expr

    workflows: dict[str, tuple[Filter, ...]] = {}
    workflow_filters: dict[str, tuple[tuple[Expression, tuple[Step, ...]], ...]] = {}
    default_queue: dict[str, str] = {}
    for wf_name, wf in settings.workflows.items():
        filters: list[Filter] = []
        compiled: list[tuple[Expression, tuple[Step, ...]]] = []
        for i, flt in enumerate(wf.filters):
            path = f"acd.workflows.{wf_name}.filters.{i}"
            fexpr = compile_at(f"{path}.expression", flt.expression)
            steps: list[Step] = []
            targets: list[Target] = []
            if not flt.targets:
                problems.append(f"{path}.targets: a filter needs at least one target")
            for j, target in enumerate(flt.targets):
                tpath = f"{path}.targets.{j}"
                if target.queue not in queues:
                    problems.append(f"{tpath}.queue: unknown queue {target.queue!r}")
                    continue
                key = target.queue
                if target.expression.strip():
                    texpr = compile_at(f"{tpath}.expression", target.expression)
                    if texpr is None:
                        continue
                    key = _derived_key(target.queue, target.expression)
                    combined = f"({queues[target.queue].target}) and ({target.expression})"
                    queues[key] = replace(queues[target.queue], name=key, target=combined)
                    base_of[key] = target.queue
                    expressions[key] = compile_expr(combined)
                if target.priority is not None and not 0 <= target.priority <= PRIORITY_MAX:
                    problems.append(f"{tpath}.priority: expected 0..{PRIORITY_MAX}, got {target.priority}")
                steps.append(Step(key, target.timeout_s, target.skip_if_no_workers, target.priority))
                targets.append(Target(target.queue, target.expression, target.timeout_s, target.skip_if_no_workers, target.priority))
            filters.append(Filter(flt.name or f"filter-{i}", flt.expression, tuple(targets)))
            if fexpr is not None:
                compiled.append((fexpr, tuple(steps)))
        if wf.default_queue and wf.default_queue not in queues:
            problems.append(f"acd.workflows.{wf_name}.default_queue: unknown queue {wf.default_queue!r}")
        default_queue[wf_name] = wf.default_queue
        workflows[wf_name] = tuple(filters)
        workflow_filters[wf_name] = tuple(compiled)

    tier_priority: dict[int, int] = {}
    for tier_text, priority in settings.tier_priority.items():
        try:
            tier_priority[int(Tier.parse(tier_text))] = priority
        except ValueError as exc:
            problems.append(f"acd.tier_priority.{tier_text}: {exc}")
    for agent_id, agent in settings.agents.items():
        for channel, n in agent.capacity.items():
            if channel not in DEFAULT_CAPACITY or not 0 <= int(n) <= 100:
                problems.append(f"acd.agents.{agent_id}.capacity.{channel}: expected a channel of "
                                f"{', '.join(sorted(DEFAULT_CAPACITY))} with 0..100, got {n!r}")
    if problems:
        raise RoutingConfigError("routing configuration: " + "; ".join(problems))
    return RoutingPlan(queues, base_of, expressions, workflows, workflow_filters, default_queue, tier_priority)


def as_model_workflows(plan: RoutingPlan) -> dict[str, Workflow]:
    return {name: Workflow(name, filters) for name, filters in plan.workflows.items()}
