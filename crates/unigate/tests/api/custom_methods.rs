//! Custom unified methods (`POST /unified/{model}/{resource}/{method}`: a group's
//! `add-user` and `remove-user`) and `resource_when` (a users list with `group_id` reads the
//! group's members), on a provider defined here.

use reqwest::Method;
use serde_json::{json, Value};

use crate::custom::{connect, custom_provider, spawn_with, CustomProvider, TOKEN};
use crate::helpers::{assert_error, TestApp};

async fn groups_provider(name: &str) -> CustomProvider {
    let people = json!([
        {"id": "u1", "given": "Ada"}, {"id": "u2", "given": "Alan"}, {"id": "u3", "given": "Grace"}
    ]);
    let groups = json!([{"id": "g1", "title": "Engineering"}, {"id": "g2", "title": "Sales"}]);
    let members = json!([
        {"id": "g1:u1", "group": "g1", "user": "u1", "given": "Ada"},
        {"id": "g2:u2", "group": "g2", "user": "u2", "given": "Alan"}
    ]);
    let emulator = format!(
        "credentials: {{ token: {TOKEN} }}\nauth:\n  - {{ header: Authorization, value: \"Bearer {{{{credentials.token}}}}\" }}\ncollections:\n  people:\n    records: {people}\n  groups:\n    records: {groups}\n  members:\n    records: {members}\nroutes:\n  - {{ method: GET, path: /people, op: list, collection: people }}\n  - {{ method: GET, path: /groups, op: list, collection: groups }}\n  - {{ method: GET, path: \"/groups/{{group}}/members\", op: list, collection: members, filter: {{ group: \"{{{{params.group}}}}\" }} }}\n  - {{ method: POST, path: \"/groups/{{group}}/members\", op: create, collection: members, write: {{ required: [id, group, user] }} }}\n  - {{ method: DELETE, path: \"/groups/{{group}}/members/{{id}}\", op: delete, collection: members }}\n"
    );
    let integration = format!(
        "name: {name}\nlabel: {name}\nbase_url: https://api.groups.example\ncredentials:\n  format: api_key\n  fields:\n    - name: token\nauthorization:\n  format: bearer\n  value: \"{{{{context.token}}}}\"\npagination: {{ format: none }}\nresources:\n  users:\n    list: {{ method: get, path: /people }}\n  group_members:\n    list: {{ method: get, path: \"/groups/{{{{query.group_id}}}}/members\" }}\n    create: {{ method: post, path: \"/groups/{{{{body.group_id}}}}/members\" }}\n    delete: {{ method: delete, path: \"/groups/{{{{body.group_id}}}}/members/{{{{body.group_id}}}}:{{{{body.user_id}}}}\" }}\n  groups:\n    list: {{ method: get, path: /groups }}\n"
    );
    let provider = custom_provider(name, &integration, &emulator).await;
    let mappings = r#"users:
  list:
    resource: users.list
    query_params:
      group_id:
        description: Only the members of this group.
    resource_when:
      group_id: group_members.list
    response_mapping: '{ "id": response.user ? response.user : response.id, "first_name": response.given }'
groups:
  list:
    resource: groups.list
    response_mapping: '{ "id": response.id, "name": response.title }'
  add-user:
    resource: group_members.create
    request_body_mapping: '{ "id": body.group_id & ":" & body.user_id, "group": body.group_id, "user": body.user_id }'
    response_mapping: '{ "group_id": response.group, "user_id": response.user }'
  remove-user:
    resource: group_members.delete
    request_body_mapping: 'null'
    response_mapping: '{ "group_id": body.group_id, "user_id": body.user_id }'
"#;
    std::fs::write(
        provider
            .dir
            .path()
            .join("integrations")
            .join(name)
            .join("user-directory.yaml"),
        mappings,
    )
    .unwrap();
    provider
}

async fn app_and_account(provider: &CustomProvider) -> (TestApp, String) {
    let app = spawn_with(provider, true, |_| {}).await;
    let account = connect(&app, provider, json!({})).await;
    (app, account)
}

fn first_names(r: &Value) -> Vec<&str> {
    assert!(r["result"].is_array(), "{r}");
    r["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["first_name"].as_str().unwrap_or_else(|| panic!("{u}")))
        .collect()
}

#[tokio::test]
async fn add_user_and_remove_user_change_what_the_group_id_list_shows() {
    let provider = groups_provider("groups-custom").await;
    let (app, account) = app_and_account(&provider).await;
    let users = |extra: &str| format!("/unified/user-directory/users?integrated_account_id={account}{extra}");

    // Without `group_id` the users list is everyone; with it, the group's members.
    let r = app.get(&users("")).await;
    assert_eq!(first_names(&r.body), ["Ada", "Alan", "Grace"], "{}", r.text);
    let r = app.get(&users("&group_id=g1")).await;
    assert_eq!(first_names(&r.body), ["Ada"], "{}", r.text);
    assert_eq!(r.body["result"][0]["id"], "u1");
    assert_eq!(provider.emulator.requests().last().unwrap().path, "/groups/g1/members");

    // Add Grace to g1: a POST to the provider with the mapped body; 200 with the membership.
    let add = format!("/unified/user-directory/groups/add-user?integrated_account_id={account}");
    let r = app
        .send(Method::POST, &add, Some(json!({"group_id": "g1", "user_id": "u3"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["group_id"], "g1");
    assert_eq!(r.body["user_id"], "u3");
    let sent = provider.emulator.requests().last().unwrap().clone();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/groups/g1/members")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&sent.body_text()).unwrap(),
        json!({"id": "g1:u3", "group": "g1", "user": "u3"})
    );
    let r = app.get(&users("&group_id=g1")).await;
    assert_eq!(r.body["result_count"], 2, "{}", r.text);

    // Remove Ada: the provider's DELETE on the membership, ids from the body.
    let remove = format!("/unified/user-directory/groups/remove-user?integrated_account_id={account}");
    let r = app
        .send(Method::POST, &remove, Some(json!({"group_id": "g1", "user_id": "u1"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user_id"], "u1");
    let sent = provider.emulator.requests().last().unwrap().clone();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("DELETE", "/groups/g1/members/g1:u1")
    );
    assert!(
        sent.body.is_empty(),
        "a body mapping of null sends no body: {}",
        sent.body_text()
    );
    assert!(
        r.body.get("remote_data").is_none(),
        "a 204 has no remote_data: {}",
        r.text
    );
    let r = app.get(&users("&group_id=g1")).await;
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["u3"]);

    // Removing again: the provider's 404, passed on.
    let r = app
        .send(Method::POST, &remove, Some(json!({"group_id": "g1", "user_id": "u1"})))
        .await;
    assert_error(&r, 404);

    // `GET /integration/{name}` lists them with the standard methods.
    let r = app.get("/integration/groups-custom").await;
    assert_eq!(
        r.body["unified"]["user-directory"]["groups"],
        json!(["list", "add-user", "remove-user"])
    );
}

#[tokio::test]
async fn custom_methods_that_do_not_exist_or_are_not_mapped_are_405s_naming_the_supported_ones() {
    let provider = groups_provider("groups-405").await;
    let (app, account) = app_and_account(&provider).await;

    // Not a method of the model at all.
    let r = app
        .send(
            Method::POST,
            &format!("/unified/user-directory/groups/rename-all?integrated_account_id={account}"),
            Some(json!({})),
        )
        .await;
    let msg = assert_error(&r, 405);
    assert!(msg.contains("`rename-all`") && msg.contains("`add-user`"), "{msg}");

    // A method of the model that this integration does not map.
    let r = app
        .send(
            Method::POST,
            &format!("/unified/user-directory/users/add-user?integrated_account_id={account}"),
            Some(json!({})),
        )
        .await;
    assert_error(&r, 405);
    // Auth0 has no groups (Okta, Entra ID and Google Workspace map these methods).
    let other = crate::helpers::app_with_account("auth0").await;
    let r = other
        .0
        .send(
            Method::POST,
            &format!(
                "/unified/user-directory/groups/add-user?integrated_account_id={}",
                other.1
            ),
            Some(json!({"group_id": "g", "user_id": "u"})),
        )
        .await;
    let msg = assert_error(&r, 405);
    assert!(msg.contains("`auth0`") && msg.contains("`add-user`"), "{msg}");

    // A custom method needs a JSON object body.
    let r = app
        .send(
            Method::POST,
            &format!("/unified/user-directory/groups/add-user?integrated_account_id={account}"),
            None,
        )
        .await;
    assert_error(&r, 400);
    assert!(
        !provider.emulator.requests().iter().any(|r| r.method == "POST"),
        "no provider call"
    );
}
