package hcp.authz_test

import rego.v1

import data.hcp.authz

req(method, path, token) := {
	"attributes": {"request": {"http": {"method": method}}},
	"parsed_path": path,
	"token": token,
}

admin := {"sub": "alice", "tenant": "acme", "roles": ["administrator", "monitor"]}

monitor := {"sub": "bob", "tenant": "acme", "roles": ["monitor"]}

nsuser := {"sub": "dave", "tenant": "acme", "roles": []}

test_health_is_public if authz.allow with input as {"attributes": {"request": {"http": {"method": "GET"}}}, "parsed_path": ["health"]}

test_no_token_is_denied if not authz.allow with input as {"attributes": {"request": {"http": {"method": "GET"}}}, "parsed_path": ["mapi", "tenants"]}

test_admin_writes_own_tenant if authz.allow with input as req("PUT", ["mapi", "tenants", "acme", "namespaces"], admin)

test_admin_not_other_tenant if not authz.allow with input as req("GET", ["mapi", "tenants", "globex", "namespaces"], admin)

test_monitor_reads if authz.allow with input as req("GET", ["mapi", "tenants", "acme", "statistics"], monitor)

test_monitor_cannot_write if not authz.allow with input as req("PUT", ["mapi", "tenants", "acme", "namespaces"], monitor)

test_monitor_cannot_delete_objects if not authz.allow with input as req("DELETE", ["demo-bucket", "a.txt"], monitor)

test_namespace_user_no_mapi if not authz.allow with input as req("GET", ["mapi", "tenants", "acme"], nsuser)

test_namespace_user_reads_and_writes_objects if {
	authz.allow with input as req("GET", ["demo-bucket", "a.txt"], nsuser)
	authz.allow with input as req("PUT", ["demo-bucket", "a.txt"], nsuser)
}

test_decision_object_says_why if {
	d := authz.decision with input as req("PUT", ["mapi", "tenants", "acme", "namespaces"], monitor)
	d.allowed == false
	d.headers["x-tollgate-policy-reason"] == "monitors may only read"
	d.dynamic_metadata.roles == ["monitor"]
}
