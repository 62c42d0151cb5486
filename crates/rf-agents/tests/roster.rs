//! The roster of prompts/ as shipped: all 87 agents load, render with their
//! sample inputs, have valid and distinct schemas, and the Lords' narrowed
//! delegation schemas accept only real agents.

use std::collections::BTreeMap;

use rf_agents::{Guild, Roster};
use serde_json::json;

fn roster() -> Roster {
    Roster::load(&rf_agents::source_prompts_dir()).unwrap_or_else(|err| panic!("the shipped roster does not load: {err}"))
}

#[test]
fn all_87_agents_of_the_plan_load() {
    let roster = roster();
    assert_eq!(roster.len(), 87);
    let mut per_guild: BTreeMap<Guild, usize> = BTreeMap::new();
    for agent in roster.agents() {
        *per_guild.entry(agent.guild).or_default() += 1;
    }
    assert_eq!(per_guild[&Guild::Council], 7);
    assert_eq!(per_guild[&Guild::Research], 20);
    assert_eq!(per_guild[&Guild::Muse], 30);
    assert_eq!(per_guild[&Guild::Matrix], 20);
    assert_eq!(per_guild[&Guild::Guardian], 10);
    let names: Vec<(&str, &str)> = ["LORD-001", "LORD-002", "LORD-003", "LORD-004", "LORD-005", "LORD-006", "LORD-007"]
        .iter()
        .map(|id| (*id, roster.get(id).unwrap().name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("LORD-001", "Architect"),
            ("LORD-002", "Cognition"),
            ("LORD-003", "Strategos"),
            ("LORD-004", "Aesthete"),
            ("LORD-005", "Seer"),
            ("LORD-006", "Arbiter"),
            ("LORD-007", "Herald")
        ]
    );
    for (id, name) in
        [("RES-001", "Market Researcher"), ("RES-002", "Competitor Analyst"), ("RES-003", "Audience Researcher"), ("RES-004", "Industry Trend Analyst")]
    {
        assert_eq!(roster.get(id).unwrap().name, name);
    }
}

#[test]
fn every_sample_input_gives_a_prompt_and_every_schema_is_valid_and_its_own() {
    // Roster::load renders every template with its sample and compiles
    // every schema; here the results are looked at too.
    let roster = roster();
    let mut schemas = std::collections::BTreeSet::new();
    for agent in roster.agents() {
        assert!(jsonschema::meta::is_valid(&agent.output_schema), "{}: the schema is not valid against its meta-schema", agent.id);
        assert!(schemas.insert(agent.output_schema.to_string()), "{}: the same schema as another agent", agent.id);
        let generation = roster.generation_schema(agent);
        assert!(jsonschema::validator_for(&generation).is_ok(), "{}: the generation schema does not compile", agent.id);
        // An answer of the wrong shape is caught.
        assert!(!roster.validate_output(&agent.id, &json!({"unexpected": true})).is_empty(), "{}: accepts anything", agent.id);
    }
}

#[test]
fn a_lords_generation_schema_names_only_the_agents_it_commands() {
    let roster = roster();
    let cognition = roster.get("LORD-002").unwrap();
    let schema = roster.generation_schema(cognition);
    let choices = schema.pointer("/properties/delegations/items/anyOf").and_then(|c| c.as_array()).expect("narrowed delegations");
    assert_eq!(choices.len(), 20, "Cognition commands the 20 researchers");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let sample = roster.get("RES-001").unwrap().sample_input.clone();
    let good = json!({"knowledge_gap": "who buys", "delegations": [{"agent": "RES-001", "task": "size the market", "input": sample}]});
    assert!(validator.is_valid(&good));
    let unknown = json!({"knowledge_gap": "who buys", "delegations": [{"agent": "RES-099", "task": "x", "input": sample}]});
    assert!(!validator.is_valid(&unknown));
    let other_guild =
        json!({"knowledge_gap": "who buys", "delegations": [{"agent": "MUSE-001", "task": "x", "input": roster.get("MUSE-001").unwrap().sample_input}]});
    assert!(!validator.is_valid(&other_guild));
}

#[test]
fn a_broken_agent_file_is_refused_with_its_path_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let source = rf_agents::source_prompts_dir();
    for sub in ["agents", "schemas", "samples"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(source.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    assert_eq!(Roster::load(dir.path()).unwrap().len(), 87);
    let file = dir.path().join("agents/MUSE-007.md");
    let text = std::fs::read_to_string(&file).unwrap();
    // A template field the sample does not have.
    std::fs::write(&file, format!("{text}\n{{{{ input.nonexistent_field }}}}\n")).unwrap();
    let err = Roster::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("MUSE-007.md") && err.contains("does not render with the sample input"), "{err}");
    // A Lord that the agent names but that does not command its guild.
    std::fs::write(&file, text.replace("lord = \"LORD-004\"", "lord = \"LORD-005\"")).unwrap();
    let err = Roster::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("MUSE-007.md") && err.contains("does not command the muse guild"), "{err}");
    // A schema that is not JSON Schema.
    std::fs::write(&file, &text).unwrap();
    std::fs::write(dir.path().join("schemas/MUSE-007.json"), r#"{"type": "object", "properties": {"a": {"type": "strin"}}}"#).unwrap();
    let err = Roster::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("MUSE-007.json") && err.contains("not a valid JSON Schema"), "{err}");
    // Two agents with the same schema.
    std::fs::copy(source.join("schemas/MUSE-006.json"), dir.path().join("schemas/MUSE-007.json")).unwrap();
    let err = Roster::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("the same as MUSE-00"), "{err}");
}

#[test]
fn every_answer_fits_its_token_allowance() {
    // A constrained model cannot write more than its schema allows; when
    // the longest allowed answer fits the allowance, answers are not cut off
    // (the bound assumes two characters per token: a rare answer of much
    // shorter tokens gets a repair round with twice the allowance).
    // Lords are the exception: their delegations carry whole inputs, so
    // they get the largest allowance (real answers are about a third of it).
    let roster = roster();
    let too_long: Vec<String> = roster
        .agents()
        .filter(|agent| !agent.is_lord())
        .filter_map(|agent| {
            // At about two characters per token (what token_budget assumes).
            let worst = rf_agents::spec::worst_case_chars(&roster.generation_schema(agent));
            (worst.div_ceil(2) > rf_agents::spec::MAX_TOKENS).then(|| format!("{} ({worst} characters)", agent.id))
        })
        .collect();
    assert!(too_long.is_empty(), "schemas whose longest answer exceeds {} tokens: {too_long:?}", rf_agents::spec::MAX_TOKENS);
}

#[test]
fn duties_run_as_their_agent_and_cannot_be_delegated_to() {
    let roster = roster();
    let duty = roster.get("LORD-002.brand-codex").expect("the brand codex duty loads");
    assert_eq!((duty.name.as_str(), duty.guild, duty.duty.as_deref()), ("Cognition", Guild::Council, Some("brand-codex")));
    assert!(!duty.delegates());
    assert!(roster.agents().all(|a| a.duty.is_none()), "duties are not counted among the 87 agents");
    let lord = roster.get("LORD-002").unwrap();
    let refused = roster.check_delegation(lord, "LORD-002.brand-codex", &duty.sample_input).unwrap_err();
    assert!(refused.contains("Lord"), "{refused}");
}

#[test]
fn the_workflows_load_and_plan_their_sample_contexts() {
    let dir = rf_agents::source_prompts_dir();
    let roster = roster();
    let workflows = rf_agents::Workflows::load(&dir, &roster).unwrap_or_else(|err| panic!("the shipped workflows do not load: {err}"));
    let onboarding = workflows.get("onboarding").expect("onboarding");
    assert_eq!(onboarding.lead.as_str(), "LORD-002");
    let planned = onboarding.plan(&roster, &onboarding.sample_context).unwrap();
    let ids: Vec<&str> = planned.iter().map(|(id, _)| id.as_str()).collect();
    // Two audiences and two competitors in the sample fan out.
    assert_eq!(ids, ["market", "audience", "audience", "competitor", "competitor", "brand-codex", "voice", "positioning", "approve"]);
    let codex = &planned[5].1;
    assert_eq!(codex.deps, [1, 2, 3, 4, 5], "the brand codex waits for every research step");
    assert_eq!(codex.input["facts"][0]["field"], "company", "`=facts` passes the list itself");
    assert_eq!(planned[8].1.deps, [6, 7, 8]);
    assert_eq!(
        planned[8].1.input,
        json!({"apply": "brand_codex", "from_step": 6, "from_steps": [6], "items": [null], "regenerate": [], "target": null}),
        "the approval applies the brand codex step's answer"
    );
    assert!(planned[8].1.label.contains("Fernhill Coffee Roasters"), "{}", planned[8].1.label);
    assert!(planned[3].1.label.contains("Roastworks Direct"), "{}", planned[3].1.label);

    // No competitors: the fan-out gives no steps, and the brand codex waits
    // only for the others.
    let mut context = onboarding.sample_context.clone();
    context["intake"]["competitors"] = json!([]);
    context["intake"]["voice"] = serde_json::Value::Null;
    let planned = onboarding.plan(&roster, &context).unwrap();
    assert_eq!(planned.iter().filter(|(id, _)| id == "competitor").count(), 0);
    assert_eq!(planned[3].1.deps, [1, 2, 3]);
    assert_eq!(planned[4].1.input["draft_copy"], context["intake"]["description"], "a missing voice falls back to the description");

    // A context the templates cannot fill is refused with the step named.
    let err = onboarding.plan(&roster, &json!({"intake": {"company": "A"}, "facts": []})).unwrap_err();
    assert!(err.contains("step \"market\""), "{err}");

    // A campaign plan: one Strategos step per channel, each asked for its
    // own channel only; the approval writes every channel's moves.
    let plan = workflows.get("campaign-plan").unwrap();
    let planned = plan.plan(&roster, &plan.sample_context).unwrap();
    let moves: Vec<&rf_agents::NewStep> = planned.iter().filter(|(id, _)| id == "moves").map(|(_, s)| s).collect();
    assert_eq!(moves.iter().map(|s| s.input["channels"].clone()).collect::<Vec<_>>(), [json!(["google_ads"]), json!(["email"]), json!(["linkedin"])]);
    let approval = &planned.last().unwrap().1;
    assert_eq!(approval.input["apply"], "moves");
    assert_eq!(approval.input["from_steps"], json!([1, 2, 3]));
    assert_eq!(approval.input["items"], json!(["google_ads", "email", "linkedin"]));

    // Asset generation: each Guardian reviewer takes the answer of the
    // writer of the same move, when it starts.
    let assets = workflows.get("asset-generation").unwrap();
    let planned = assets.plan(&roster, &assets.sample_context).unwrap();
    let number = |id: &str| planned.iter().position(|(i, _)| i == id).unwrap() + 1;
    let editorial = &planned[number("google-rsa-editorial") - 1].1;
    assert_eq!(editorial.input["asset"], json!({"$answer_of": number("google-rsa")}));
    assert_eq!(editorial.deps, [u32::try_from(number("google-rsa")).unwrap()]);
    let approval = &planned.last().unwrap().1;
    assert_eq!(approval.input["apply"], "assets");
    assert_eq!(approval.input["from_steps"].as_array().unwrap().len(), 3, "the RSA, the LinkedIn ad and the email");
    assert_eq!(approval.input["items"][1]["channel"], "linkedin", "each with the move it was written for");
}

#[test]
fn a_bad_workflow_is_refused_with_its_file_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let source = rf_agents::source_prompts_dir();
    for sub in ["agents", "schemas", "samples", "duties"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(source.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir_all(dir.path().join("workflows/samples")).unwrap();
    std::fs::write(dir.path().join("workflows/samples/c.json"), r#"{"name": "Fernhill"}"#).unwrap();
    let roster = Roster::load(dir.path()).unwrap();
    let cases = [
        ("lead = \"RES-001\"", "[[step]]\nid = \"a\"\napproval = \"ok?\"", "is not a Lord"),
        ("lead = \"LORD-002\"", "[[step]]\nid = \"a\"\nagent = \"RES-099\"", "\"RES-099\" is not on the roster"),
        ("lead = \"LORD-002\"", "[[step]]\nid = \"a\"\napproval = \"ok?\"\nafter = [\"b\"]", "not a step before this one"),
        (
            "lead = \"LORD-002\"",
            "[[step]]\nid = \"a\"\nagent = \"RES-001\"\ninput = { company = \"{{ name }}\", offer = \"x\" }",
            "does not have the shape of its sample input",
        ),
        (
            "lead = \"LORD-002\"",
            "[[step]]\nid = \"a\"\nagent = \"RES-001\"\nforeach = \"nothing\"\ninput = { company = \"{{ name }}\", offer = \"x\", region = \"y\" }",
            "foreach",
        ),
        (
            "lead = \"LORD-002\"",
            "[[step]]\nid = \"a\"\nagent = \"MUSE-001\"\n\n[[step]]\nid = \"b\"\nagent = \"GRD-001\"\ninput = { advertiser = \"x\", landing_page = \"y\", asset = \"@a\" }",
            "which is not an agent step this one waits for",
        ),
        (
            "lead = \"LORD-002\"",
            "[[step]]\nid = \"a\"\nagent = \"RES-001\"\n\n[[step]]\nid = \"b\"\napproval = \"ok?\"\nafter = [\"a\"]\napply = { steps = [\"a\", \"a\"], to = \"brand_codex\" }",
            "takes one step",
        ),
    ];
    for (lead, step, says) in cases {
        let text = format!("[workflow]\nid = \"w\"\nname = \"W\"\n{lead}\nsummary = \"s\"\nsample_context = \"workflows/samples/c.json\"\n\n{step}\n");
        std::fs::write(dir.path().join("workflows/w.toml"), text).unwrap();
        let err = rf_agents::Workflows::load(dir.path(), &roster).unwrap_err().to_string();
        assert!(err.contains("w.toml") && err.contains(says), "{says}: {err}");
    }
}
