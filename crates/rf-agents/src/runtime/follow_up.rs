//! What a finished step adds to its run: a Lord's checked delegations
//! (the Lord asked once more when some were refused) and the next round of
//! a review loop, where Guardian's blocking findings send the work back
//! whatever the model reviewer said.

use std::sync::Arc;

use rf_domain::RunId;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Runtime;
use crate::{
    error::{AgentError, Result},
    events::RunEvent,
    exec::{Execution, StepContext},
    render::StepData,
    run::{NewStep, Review, ReviewRole, RunRecord, StepRecord},
    spec::AgentSpec,
    store::StepResult,
};

impl Runtime {
    /// What a finished step adds to the run: a Lord's checked delegations
    /// (asking the Lord once more when some were refused) and the next
    /// round of a review loop.
    pub(super) async fn follow_up(
        &self,
        run: &RunRecord,
        step: &StepRecord,
        spec: &Arc<AgentSpec>,
        result: &mut StepResult,
        fetched: StepData,
        cancel: &CancellationToken,
    ) -> Result<Vec<NewStep>> {
        let mut added = Vec::new();
        let blocking = blocking_findings(fetched.findings.as_ref());
        let no_delegation = fetched.no_delegation;
        if spec.is_lord() && spec.delegates() && !no_delegation {
            let (mut accepted, refusals) = self.check_delegations(run.id, step.step, spec, &result.output).await?;
            if !refusals.is_empty() && !cancel.is_cancelled() {
                // Once more, with the reasons.
                let mut data = fetched;
                data.refusals = refusals;
                let ctx = StepContext { run: run.id, step: step.step, workspace: run.workspace_id, user: run.user_id.clone() };
                let emit = |_: RunEvent| {};
                let execution = Execution { tools_done: true, ..self.execution(spec, &step.input, data, &ctx, &emit, cancel) };
                match execution.run().await.0 {
                    Ok(second) => {
                        let (again, _) = self.check_delegations(run.id, step.step, spec, &second.output).await?;
                        merge_spent(result, &second);
                        result.output = second.output;
                        accepted = again;
                    }
                    Err(failure) => {
                        merge_spent(result, &failure.spent);
                        tracing::warn!(run = %run.id, step = step.step, "asking the Lord again failed: {}", failure.message);
                    }
                }
            }
            for (agent, task, input) in accepted {
                let mut new = NewStep::agent(&agent, input);
                new.parent = Some(step.step);
                new.deps = vec![step.step];
                new.extra.earlier.push((format!("{} {}'s task for you", spec.id, spec.name), Value::String(task)));
                added.push(new);
            }
        }
        if let Some(review) = &step.review {
            match review.role {
                ReviewRole::Producer => {
                    let mut input = review.reviewer_input.clone();
                    if let Value::Object(map) = &mut input {
                        map.insert(review.work_field.clone(), result.output.clone());
                    }
                    let reviewer = self
                        .inner
                        .roster
                        .get(review.reviewer.as_str())
                        .ok_or_else(|| AgentError::NotFound(format!("reviewer {} is not on the roster", review.reviewer)))?;
                    let mut new = NewStep::agent(reviewer, input);
                    new.parent = Some(step.step);
                    new.deps = vec![step.step];
                    new.extra.no_delegation = no_delegation;
                    new.review = Some(Review { role: ReviewRole::Reviewer, of_step: Some(step.step), ..review.clone() });
                    added.push(new);
                }
                ReviewRole::Reviewer => {
                    let mut verdict = result.output.get("verdict").and_then(Value::as_str).unwrap_or("approve");
                    let mut reasons: Vec<String> = result
                        .output
                        .get("reasons")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                        .unwrap_or_default();
                    // Guardian's deterministic findings are never overruled:
                    // a blocking one sends the work back whatever the model said.
                    if !blocking.is_empty() {
                        if verdict != "revise" {
                            self.emit(
                                run.id,
                                vec![RunEvent::Repair {
                                    step: step.step,
                                    problems: vec![format!("the reviewer approved, but Guardian blocks it: {}", blocking.join("; "))],
                                }],
                            )
                            .await?;
                        }
                        verdict = "revise";
                        for reason in blocking {
                            if !reasons.contains(&reason) {
                                reasons.push(reason);
                            }
                        }
                    }
                    // Sent back without a reason, the work would come back
                    // the same: taken as approved, and said so.
                    let reasonless = verdict == "revise" && reasons.iter().all(|r| r.trim().is_empty());
                    if reasonless {
                        verdict = "approve";
                    }
                    if verdict == "revise" {
                        let producer = self.inner.store.step(run.id, review.of_step.unwrap_or(step.step)).await?;
                        if review.round < review.max_rounds {
                            let producer_spec = producer
                                .agent_id
                                .as_ref()
                                .and_then(|a| self.inner.roster.get(a.as_str()))
                                .ok_or_else(|| AgentError::NotFound("the producer of a review is not on the roster".into()))?;
                            let mut new = NewStep::agent(producer_spec, producer.input.clone());
                            new.parent = Some(step.step);
                            new.deps = vec![step.step];
                            new.extra = self.inner.store.step_extra(run.id, producer.step).await?;
                            new.extra.feedback = reasons;
                            new.review = Some(Review { role: ReviewRole::Producer, round: review.round + 1, of_step: None, ..review.clone() });
                            added.push(new);
                        } else {
                            let note = format!(
                                "the review stopped at its bound of {} rounds; the last answer (step {}) was sent back: {}",
                                review.max_rounds,
                                producer.step,
                                reasons.join("; ")
                            );
                            self.emit(run.id, vec![RunEvent::ReviewEnded { step: step.step, approved: false, rounds: review.round, note }]).await?;
                        }
                    } else {
                        let note = if reasonless {
                            format!("sent back without a reason in round {}: taken as approved", review.round)
                        } else {
                            format!("approved in round {}", review.round)
                        };
                        self.emit(run.id, vec![RunEvent::ReviewEnded { step: step.step, approved: true, rounds: review.round, note }]).await?;
                    }
                }
            }
        }
        Ok(added)
    }

    /// Splits a Lord's delegations into the accepted ones and the refusal
    /// reasons, logging each refusal.
    async fn check_delegations(&self, run: RunId, step: u32, lord: &AgentSpec, output: &Value) -> Result<(Vec<(Arc<AgentSpec>, String, Value)>, Vec<String>)> {
        let mut accepted = Vec::new();
        let mut refusals = Vec::new();
        let mut events = Vec::new();
        for delegation in output.get("delegations").and_then(Value::as_array).into_iter().flatten() {
            let agent = delegation.get("agent").and_then(Value::as_str).unwrap_or_default();
            let task = delegation.get("task").and_then(Value::as_str).unwrap_or_default().to_owned();
            let input = delegation.get("input").cloned().unwrap_or(json!({}));
            match self.inner.roster.check_delegation(lord, agent, &input) {
                Ok(spec) => accepted.push((spec, task, input)),
                Err(reason) => {
                    events.push(RunEvent::DelegationRefused { step, agent: agent.to_owned(), reason: reason.clone() });
                    refusals.push(format!("delegation to {agent:?} refused: {reason}"));
                }
            }
        }
        if !events.is_empty() {
            self.emit(run, events).await?;
        }
        Ok((accepted, refusals))
    }
}

fn merge_spent(into: &mut StepResult, more: &StepResult) {
    into.calls += more.calls;
    into.input_tokens += more.input_tokens;
    into.output_tokens += more.output_tokens;
    into.cost_micro_usd += more.cost_micro_usd;
    into.ledger_ids.extend_from_slice(&more.ledger_ids);
    into.overhead_us += more.overhead_us;
}

/// The blocking findings of a `guardian.check` result, as reasons to give
/// a writer: "Guardian (rule, field): message".
fn blocking_findings(check: Option<&Value>) -> Vec<String> {
    check
        .and_then(|c| c.get("findings"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("severity").and_then(Value::as_str) == Some("block"))
        .map(|f| {
            let text = |key: &str| f.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            format!("Guardian ({}, {}): {}", text("rule"), text("field"), text("message"))
        })
        .collect()
}
