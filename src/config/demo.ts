/**
 * The built-in demo tenant: the scenario of seed/call-identifiers.txt (users A, B, C and an admin;
 * queue Support offering calls to B, then C). It runs when no configuration file is given.
 *
 * It is YAML parsed by the same loader as any file, so the demo can never be a tenant that
 * validation would reject; examples/tenant.yaml holds the same text (demo.test.ts keeps them equal).
 */
import { parseTenantYaml } from './load.js';
import type { Tenant } from './types.js';

export const DEMO_TENANT_SOURCE = 'built-in demo tenant';

export const DEMO_TENANT_YAML = `# Switchboard tenant configuration: the built-in demo tenant, written out as a file.
#
#   switchboard start --config examples/tenant.yaml
#
# runs exactly what "switchboard start" runs without --config: the scenario of the call-identifier
# guide. User A calls queue Support; the call is offered to B, who declines, then to C, who answers.
# Every field is described in src/config/README.md. Unknown fields are errors, and a bad file stops
# start-up with a message naming the line and the field.

# SIP domain of the users' addresses (sip:1001@switchboard.local).
domain: switchboard.local

# Public base URL of the REST API, returned by service discovery as apiEndpoint. Omitted here, so
# it is derived from the HTTP port: http://127.0.0.1:8080/ with the default --http-port.
# publicUrl: https://switchboard.example.com/

postProcessing:
  delaySeconds: 0 # 10 emulates the ~10 s delay of the original platform

users:
  # username is the REST login; the SIP digest username is the extension, with the same password.
  # Quote extensions and numbers: YAML reads unquoted digits as numbers.
  - username: a@example.com
    displayName: User A
    extension: "1001"
    password: secret-a
  - username: b@example.com
    displayName: User B
    extension: "1002"
    password: secret-b
    permissions: [ { CallbackList: Support callbacks } ]   # may handle callback requests
  - username: c@example.com
    displayName: User C
    extension: "1003"
    password: secret-c
    permissions: [ { CallbackList: Support callbacks } ]
  # Every user may see their own direct and agent calls; an admin sees everything. Others need
  # permissions, e.g. permissions: [ { ServiceCalls: Support }, { AgentCalls: b@example.com } ]
  - username: admin@example.com
    displayName: Admin
    extension: "1000"
    password: secret-admin
    role: admin

queues:
  - name: Support
    extension: "100"
    number: "+35810100100"
    members: [b@example.com, c@example.com] # offered in this order
    strategy: sequential                    # sequential | longest-idle | ring-all
    allocationTimeoutSeconds: 15            # ring a member this long before trying the next
    maxWaitSeconds: 120                     # then the call overflows, or becomes a callback request
    callbackList: Support callbacks         # missed calls become callback requests here

callbackLists:
  - name: Support callbacks
    queue: Support                          # callees of callback calls see this queue's number
    members: [b@example.com, c@example.com]

trunks:
  # Calls to numbers that match no user or queue go out through the first trunk; INVITEs from a
  # trunk's address are inbound calls from the outside world.
  - name: pstn
    host: 127.0.0.1
    port: 5080
    transport: udp
`;

export function demoTenant(opts: { publicUrl: string }): Tenant {
  return parseTenantYaml(DEMO_TENANT_YAML, DEMO_TENANT_SOURCE, { defaultPublicUrl: opts.publicUrl });
}
