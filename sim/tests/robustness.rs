//! Hostile input never crashes a handler: every served endpoint, called with odd values for each
//! declared parameter, answers with a status (a panic would drop the connection instead). One
//! round (the fourth) has well-typed values so that handlers, not only validation, see odd input.

use pve_sim::{ParamType, Scenario};
use reqwest::Method;

use crate::common::{enc, spawn};

#[tokio::test]
async fn odd_values_get_answers_not_panics() {
    let sim = spawn(Scenario::Demo).await;
    let odd_strings = [
        "é",
        "local-lvm:99999999999999",
        "x,size=99999999999999T",
        "-1",
        "",
    ];
    let mut calls = 0;
    for ep in pve_sim::catalog() {
        let method = Method::from_bytes(ep.method.as_bytes()).expect("method");
        for (round, odd) in odd_strings.iter().enumerate() {
            // path parameters: plausible for even rounds, odd for the others
            let path = ep
                .path
                .split('/')
                .map(|seg| match seg {
                    "{node}" => "pve1".to_owned(),
                    "{vmid}" => {
                        if round % 2 == 0 {
                            "100".to_owned()
                        } else {
                            "4294967296".to_owned()
                        }
                    }
                    s if s.starts_with('{') => enc(odd),
                    s => s.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let values: Vec<(String, String)> = ep
                .params
                .iter()
                .filter(|p| !ep.path.contains(&format!("{{{}}}", p.name)))
                .map(|p| {
                    let name = p.name.replace("[n]", "0");
                    let v = match p.ty {
                        ParamType::Integer => {
                            ["99999999999999999999", "-5", "1e3", "7", "0"][round].to_owned()
                        }
                        ParamType::Number => ["NaN", "1e308", "-0", "0.5", "inf"][round].to_owned(),
                        ParamType::Boolean => ["2", "yes", "1", "0", "true"][round].to_owned(),
                        ParamType::String => p
                            .enum_values
                            .first()
                            .filter(|_| round == 4)
                            .cloned()
                            .unwrap_or_else(|| (*odd).to_owned()),
                    };
                    (name, v)
                })
                .collect();
            let params: Vec<(&str, &str)> = values
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = sim.call(method.clone(), &path, &params).await;
            calls += 1;
            assert!(r.status.as_u16() >= 200, "{} {path}", ep.method);
            if !r.status.is_success() {
                assert!(
                    r.body.get("message").is_some(),
                    "{} {path}: {:?}",
                    ep.method,
                    r.body
                );
            }
        }
    }
    println!("robustness: {calls} calls with odd values answered");
}
