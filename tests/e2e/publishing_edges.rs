//! The publishing edges a new team member hit (issue 14): `publish` exits 1
//! when a role lacks signatures, staged files live outside the published
//! site, `sign` refuses a key the role does not list, and a signature by an
//! unlisted key never reaches a published file.

use std::path::Path;

use patchkit_signing::{canonical_json, sign, SigningKey};

use crate::support::server::read_json;
use crate::support::*;

/// Keys for a 2-of-2 root (the second root key held by "other"), one
/// record, and the KEYS.toml of the first maintainer.
fn two_of_two(env: &TestEnv) {
    for role in ["root", "targets", "snapshot", "timestamp"] {
        env.run_ok(&["key", "generate", &format!("keys/{role}")]);
    }
    env.run_ok(&["key", "generate", "other/root-2"]);
    std::fs::copy(
        env.path("other/root-2.pub.pem"),
        env.path("keys/root-2.pub.pem"),
    )
    .unwrap();
    std::fs::write(
        env.path("keys/keys.toml"),
        "[root]\nkeys = [\"root.pem\"]\npublic = [\"root-2.pub.pem\"]\nthreshold = 2\n\
         [targets]\nkeys = [\"targets.pem\"]\n[snapshot]\nkeys = [\"snapshot.pem\"]\n\
         [timestamp]\nkeys = [\"timestamp.pem\"]\n",
    )
    .unwrap();
    SourceBuilder::new(env.path("patches")).add(
        "PK-1",
        "Foo",
        ">= 1",
        &udiff("lib/Foo.pm", "sub f { 1 }\n", "sub f { 2 }\n"),
    );
}

const PUBLISH: [&str; 7] = [
    "publish",
    "--source",
    "patches",
    "--out",
    "pub",
    "--keys",
    "keys/keys.toml",
];

fn publish(env: &TestEnv, extra: &[&str], code: i32) -> Output {
    let mut args = PUBLISH.to_vec();
    args.extend_from_slice(extra);
    env.run_code(&args, code)
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn publish_exits_1_when_a_role_lacks_signatures() {
    let env = TestEnv::new();
    two_of_two(&env);
    let out = publish(&env, &[], 1);
    assert!(
        out.stderr
            .contains("error: root has 1 of 2 signatures: nothing was published"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("nothing was published"),
        "{}",
        out.stdout
    );
    let doc = publish(&env, &["--json"], 1).json();
    assert_eq!(doc["published"], false);
    assert_eq!(doc["pending"]["role"], "root");
}

#[test]
fn staged_files_are_never_inside_the_published_site() {
    let env = TestEnv::new();
    two_of_two(&env);
    let doc = publish(&env, &["--json"], 1).json();
    let file = doc["pending"]["file"].as_str().unwrap();
    assert!(file.ends_with("pub.staged/1.root.json"), "{file}");
    // Nothing at all under OUT while the root waits: a web server serving
    // OUT serves no half-signed file.
    assert!(files_under(&env.path("pub")).is_empty());
    env.run_ok(&["sign", file, "--key", "other/root-2.pem"]);
    publish(&env, &[], 0);
    // Published: OUT holds metadata/ and targets/ only.
    let served = files_under(&env.path("pub"));
    assert!(!served.is_empty());
    assert!(
        served
            .iter()
            .all(|f| f.starts_with("metadata/") || f.starts_with("targets/")),
        "{served:?}"
    );
    // A staged directory inside OUT is refused, and nothing is written.
    let env = TestEnv::new();
    two_of_two(&env);
    let out = publish(&env, &["--staged", "pub/staged"], 1);
    assert!(
        out.stderr.contains("inside the published repository"),
        "{}",
        out.stderr
    );
    assert!(!env.path("pub").exists());
    // --staged DIR elsewhere is used.
    let doc = publish(&env, &["--staged", "elsewhere", "--json"], 1).json();
    assert!(doc["pending"]["file"]
        .as_str()
        .unwrap()
        .ends_with("elsewhere/1.root.json"));
}

#[test]
fn sign_refuses_a_key_that_is_not_a_root_key_of_the_staged_root() {
    let env = TestEnv::new();
    two_of_two(&env);
    publish(&env, &[], 1);
    let staged = env.path("pub.staged/1.root.json");
    let before = std::fs::read(&staged).unwrap();
    // A targets key is listed in root, but not for the root role.
    let out = env.run_code(
        &[
            "sign",
            staged.to_str().unwrap(),
            "--key",
            "keys/targets.pem",
        ],
        1,
    );
    assert!(
        out.stderr.contains("refusing to sign") && out.stderr.contains("is not a root key"),
        "{}",
        out.stderr
    );
    // A key listed nowhere.
    env.run_ok(&["key", "generate", "stranger"]);
    let out = env.run_code(
        &["sign", staged.to_str().unwrap(), "--key", "stranger.pem"],
        1,
    );
    assert!(out.stderr.contains("is not a root key"), "{}", out.stderr);
    assert_eq!(std::fs::read(&staged).unwrap(), before);
    env.run_ok(&[
        "sign",
        staged.to_str().unwrap(),
        "--key",
        "other/root-2.pem",
    ]);
}

#[test]
fn sign_refuses_a_key_that_is_not_a_key_of_a_staged_targets_role() {
    let env = TestEnv::new();
    for role in ["root", "targets", "snapshot", "timestamp"] {
        env.run_ok(&["key", "generate", &format!("keys/{role}")]);
    }
    env.run_ok(&["key", "generate", "other/targets-2"]);
    std::fs::copy(
        env.path("other/targets-2.pub.pem"),
        env.path("keys/targets-2.pub.pem"),
    )
    .unwrap();
    std::fs::write(
        env.path("keys/keys.toml"),
        "[root]\nkeys = [\"root.pem\"]\n[targets]\nkeys = [\"targets.pem\"]\n\
         public = [\"targets-2.pub.pem\"]\nthreshold = 2\n\
         [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n",
    )
    .unwrap();
    SourceBuilder::new(env.path("patches")).add(
        "PK-1",
        "Foo",
        ">= 1",
        &udiff("lib/Foo.pm", "a\n", "b\n"),
    );
    let doc = publish(&env, &["--json"], 1).json();
    let file = doc["pending"]["file"].as_str().unwrap().to_string();
    assert!(file.ends_with("pub.staged/1.targets.json"), "{file}");
    // The root key is not a targets key.
    let out = env.run_code(&["sign", &file, "--key", "keys/root.pem"], 1);
    assert!(
        out.stderr.contains("is not a targets key"),
        "{}",
        out.stderr
    );
    env.run_ok(&["sign", &file, "--key", "other/targets-2.pem"]);
    publish(&env, &[], 0);
}

#[test]
fn publish_drops_a_signature_by_a_key_the_role_does_not_list() {
    let env = TestEnv::new();
    two_of_two(&env);
    publish(&env, &[], 1);
    env.run_ok(&[
        "sign",
        "pub.staged/1.root.json",
        "--key",
        "other/root-2.pem",
    ]);
    // A signature by a key listed nowhere, added behind `sign`'s back.
    env.run_ok(&["key", "generate", "stranger"]);
    let stranger = SigningKey::load_pem(&env.path("stranger.pem")).unwrap();
    let staged = env.path("pub.staged/1.root.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&staged).unwrap()).unwrap();
    let sig = sign(&stranger, &canonical_json(&doc["signed"]).unwrap());
    doc["signatures"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::to_value(&sig).unwrap());
    std::fs::write(&staged, serde_json::to_vec(&doc).unwrap()).unwrap();
    publish(&env, &[], 0);
    let root = read_json(&env.path("pub/metadata/1.root.json"));
    let ids: Vec<&str> = root["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["keyid"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(!ids.contains(&stranger.key_id().to_string().as_str()));
    let listed = root["signed"]["roles"]["root"]["keyids"]
        .as_array()
        .unwrap();
    for id in ids {
        assert!(listed.iter().any(|k| k == id), "{id}");
    }
}

#[test]
fn sign_accepts_the_replaced_roots_key_for_a_rotation() {
    let env = TestEnv::new();
    for role in ["root", "targets", "snapshot", "timestamp"] {
        env.run_ok(&["key", "generate", &format!("keys/{role}")]);
    }
    let keys = |root: &str| {
        format!(
            "[root]\nkeys = [\"{root}\"]\n[targets]\nkeys = [\"targets.pem\"]\n\
             [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n"
        )
    };
    std::fs::write(env.path("keys/keys.toml"), keys("root.pem")).unwrap();
    SourceBuilder::new(env.path("patches")).add(
        "PK-1",
        "Foo",
        ">= 1",
        &udiff("lib/Foo.pm", "a\n", "b\n"),
    );
    publish(&env, &[], 0);
    // Rotate to a new root key without the old one at hand: root 2 is
    // staged, with root 1 beside it.
    env.run_ok(&["key", "generate", "keys/root-new"]);
    std::fs::write(env.path("keys/keys.toml"), keys("root-new.pem")).unwrap();
    let doc = publish(&env, &["--json"], 1).json();
    assert_eq!(doc["pending"]["role"], "root");
    assert!(env.path("pub.staged/1.root.json").exists());
    // The old root's holder cross-signs; a stranger cannot.
    env.run_ok(&["key", "generate", "stranger"]);
    let out = env.run_code(
        &["sign", "pub.staged/2.root.json", "--key", "stranger.pem"],
        1,
    );
    assert!(
        out.stderr
            .contains("is not a root key of pub.staged/1.root.json"),
        "{}",
        out.stderr
    );
    env.run_ok(&["sign", "pub.staged/2.root.json", "--key", "keys/root.pem"]);
    publish(&env, &[], 0);
    assert!(env.path("pub/metadata/2.root.json").exists());
}

#[test]
fn publish_warns_about_an_old_staged_folder_inside_the_site() {
    let env = TestEnv::new();
    two_of_two(&env);
    std::fs::create_dir_all(env.path("pub/staged")).unwrap();
    std::fs::write(env.path("pub/staged/1.root.json"), "{}").unwrap();
    let out = publish(&env, &[], 1);
    assert!(
        out.stderr
            .contains("pub/staged is inside the published site and is served with it"),
        "{}",
        out.stderr
    );
}
