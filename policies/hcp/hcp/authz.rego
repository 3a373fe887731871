# The HCP edge's authorization, run by rego-authz after jwt-auth: `input.token` holds the
# verified claims (never the password, which jwt-auth keeps out of headers).
#
# Roles come from the token's `roles` claim: HCP's system roles (administrator,
# security, monitor, compliance); a user with none of them is a namespace user.
package hcp.authz

import rego.v1

default allow := false

system_roles := {"administrator", "security", "monitor", "compliance"}

roles := {r | some r in input.token.roles}

held_system_roles := roles & system_roles

namespace_user if count(held_system_roles) == 0

read_methods := {"GET", "HEAD"}

method := input.attributes.request.http.method

path := input.parsed_path

# Health is public.
allow if path[0] == "health"

allow if {
	input.token.sub
	not denied
}

# Monitors may only read (a monitor that holds a write role as well is not limited).
denied if {
	held_system_roles == {"monitor"}
	not method in read_methods
}

# Namespace users never reach the management API.
denied if {
	namespace_user
	path[0] == "mapi"
}

# A tenant in the path must be the token's tenant.
denied if {
	path[0] == "mapi"
	path[1] == "tenants"
	count(path) > 2
	path[2] != input.token.tenant
}

# Why a request was refused, for the decision log and the reply.
reason := "public" if {
	path[0] == "health"
} else := "no verified token" if {
	not input.token.sub
} else := "monitors may only read" if {
	held_system_roles == {"monitor"}
	not method in read_methods
} else := "namespace users may not use the management API" if {
	namespace_user
	path[0] == "mapi"
} else := "another tenant's path" if {
	path[0] == "mapi"
	path[2] != input.token.tenant
} else := "allowed"

# The OPA-Envoy decision object: the reason goes to the client on a deny, and to later
# filters and the access log as dynamic metadata.
decision := {
	"allowed": allow,
	"headers": {"x-tollgate-policy-reason": reason},
	"dynamic_metadata": {"reason": reason, "roles": sort([r | some r in roles])},
}
