/*  ab_catalog - the event types abbey knows, who may emit each, and roles
    This is the one place the authorization table lives: abbey-logd accepts
    an event only if its type is here and the appender's role is in the
    type's role set. docs/events.md describes the same types for humans; a
    test checks that the two agree.                                          */
#ifndef AB_CATALOG_H
#define AB_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

//  X (ENUM, "name"). Service roles first; busd and logd are server identities.
#define AB_ROLE_MAP(X)                                                       \
    X (ADMIN, "admin")                                                       \
    X (SCHEDULER, "scheduler")                                               \
    X (AGENT, "agent")                                                       \
    X (BUILDER, "builder")                                                   \
    X (NETMGR, "netmgr")                                                     \
    X (COSTD, "costd")                                                       \
    X (MONITOR, "monitor")                                                   \
    X (BUSD, "busd")                                                         \
    X (LOGD, "logd")

typedef enum {
    AB_ROLE_NONE = 0,
#define AB_ROLE_ENUM(e, n) AB_ROLE_##e,
    AB_ROLE_MAP (AB_ROLE_ENUM)
#undef AB_ROLE_ENUM
    AB_ROLE__COUNT
} ab_role_t;

#define AB_R(e) (1u << AB_ROLE_##e)
//  Every service role that holds leases on work.
#define AB_R_SERVICES (AB_R (SCHEDULER) | AB_R (AGENT) | AB_R (BUILDER) | AB_R (NETMGR) | AB_R (COSTD))

//  X (ENUM, "type", roles that may emit it, "subject form")
#define AB_EVENT_MAP(X)                                                                  \
    X (NODE_JOINED, "node.joined", AB_R (AGENT), "node/<node>")                          \
    X (NODE_LEFT, "node.left", AB_R (AGENT) | AB_R (ADMIN), "node/<node>")               \
    X (NODE_LOST, "node.lost", AB_R (SCHEDULER), "node/<node>")                          \
    X (STACK_DEPLOYED, "stack.deployed", AB_R (ADMIN), "stack/<stack>")                  \
    X (STACK_REMOVED, "stack.removed", AB_R (ADMIN), "stack/<stack>")                    \
    X (STACK_READY, "stack.ready", AB_R (SCHEDULER), "stack/<stack>")                    \
    X (STACK_FAILED, "stack.failed", AB_R (SCHEDULER), "stack/<stack>")                  \
    X (SERVICE_SCALED, "service.scaled", AB_R (ADMIN) | AB_R (SCHEDULER),                \
       "stack/<stack>/svc/<service>")                                                    \
    X (INSTANCE_PLACED, "instance.placed", AB_R (SCHEDULER),                             \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_STARTED, "instance.started", AB_R (AGENT),                               \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_HEALTHY, "instance.healthy", AB_R (AGENT),                               \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_UNHEALTHY, "instance.unhealthy", AB_R (AGENT),                           \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_EXITED, "instance.exited", AB_R (AGENT),                                 \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_RESTARTED, "instance.restarted", AB_R (AGENT),                           \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_FAILED, "instance.failed", AB_R (AGENT) | AB_R (SCHEDULER),              \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_STOP_REQUESTED, "instance.stop-requested", AB_R (SCHEDULER) | AB_R (ADMIN), \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_STOPPED, "instance.stopped", AB_R (AGENT),                               \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (INSTANCE_LOST, "instance.lost", AB_R (SCHEDULER),                                 \
       "stack/<stack>/svc/<service>/<n>")                                                \
    X (LEASE_ACQUIRED, "lease.acquired", AB_R_SERVICES, "lease/<name>")                  \
    X (LEASE_RENEWED, "lease.renewed", AB_R_SERVICES, "lease/<name>")                    \
    X (LEASE_RELEASED, "lease.released", AB_R_SERVICES, "lease/<name>")                  \
    X (NOTE_ADDED, "note.added", AB_R (ADMIN), "<any resource path>")                    \
    X (KIT_PUBLISHED, "kit.published", AB_R (ADMIN), "kit/<namespace>/<name>")           \
    X (SECRET_SET, "secret.set", AB_R (ADMIN), "secret/<name>")                          \
    X (SECRET_REMOVED, "secret.removed", AB_R (ADMIN), "secret/<name>")

typedef enum {
    AB_EV_UNKNOWN = 0,
#define AB_EV_ENUM(e, n, r, s) AB_EV_##e,
    AB_EVENT_MAP (AB_EV_ENUM)
#undef AB_EV_ENUM
    AB_EV__COUNT
} ab_evtype_t;

//  Type for a name, AB_EV_UNKNOWN if the catalog does not have it.
ab_evtype_t ab_catalog_type (const char *name);

//  Name of a type; NULL for AB_EV_UNKNOWN or out of range. Static.
const char *ab_catalog_name (ab_evtype_t type);

//  Subject form of a type, for docs and errors. Static.
const char *ab_catalog_subject (ab_evtype_t type);

//  True if role may append type.
bool ab_catalog_allows (ab_role_t role, ab_evtype_t type);

//  Role for a name ("agent"), AB_ROLE_NONE if unknown.
ab_role_t ab_role_from_name (const char *name);

//  Name of a role; NULL if out of range. Static.
const char *ab_role_name (ab_role_t role);

void ab_catalog_test (bool verbose);

#endif
