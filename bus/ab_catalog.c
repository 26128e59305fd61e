/*  ab_catalog - event types, roles and the authorization table           */
#include "ab_catalog.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    uint32_t roles;
    const char *subject;
} s_events[] = {
    [AB_EV_UNKNOWN] = { NULL, 0, NULL },
#define AB_EV_ROW(e, n, r, s) [AB_EV_##e] = { n, r, s },
    AB_EVENT_MAP (AB_EV_ROW)
#undef AB_EV_ROW
};

static const char *s_roles[] = {
    [AB_ROLE_NONE] = NULL,
#define AB_ROLE_ROW(e, n) [AB_ROLE_##e] = n,
    AB_ROLE_MAP (AB_ROLE_ROW)
#undef AB_ROLE_ROW
};

ab_evtype_t
ab_catalog_type (const char *name)
{
    //  A linear scan over ~30 short strings beats hashing at this size.
    if (name)
        for (int i = 1; i < AB_EV__COUNT; i++)
            if (strcmp (s_events[i].name, name) == 0)
                return (ab_evtype_t) i;
    return AB_EV_UNKNOWN;
}

const char *
ab_catalog_name (ab_evtype_t type)
{
    return (unsigned) type < AB_EV__COUNT ? s_events[type].name : NULL;
}

const char *
ab_catalog_subject (ab_evtype_t type)
{
    return (unsigned) type < AB_EV__COUNT ? s_events[type].subject : NULL;
}

bool
ab_catalog_allows (ab_role_t role, ab_evtype_t type)
{
    if (type <= AB_EV_UNKNOWN || type >= AB_EV__COUNT || role <= AB_ROLE_NONE
        || role >= AB_ROLE__COUNT)
        return false;
    return (s_events[type].roles & (1u << role)) != 0;
}

ab_role_t
ab_role_from_name (const char *name)
{
    if (name)
        for (int i = 1; i < AB_ROLE__COUNT; i++)
            if (strcmp (s_roles[i], name) == 0)
                return (ab_role_t) i;
    return AB_ROLE_NONE;
}

const char *
ab_role_name (ab_role_t role)
{
    return (unsigned) role < AB_ROLE__COUNT ? s_roles[role] : NULL;
}

void
ab_catalog_test (bool verbose)
{
    printf (" * ab_catalog: ");
    assert (ab_catalog_type ("note.added") == AB_EV_NOTE_ADDED);
    assert (ab_catalog_type ("note.addedx") == AB_EV_UNKNOWN);
    assert (ab_catalog_type (NULL) == AB_EV_UNKNOWN);
    assert (strcmp (ab_catalog_name (AB_EV_INSTANCE_STOP_REQUESTED), "instance.stop-requested") == 0);
    assert (ab_catalog_allows (AB_ROLE_ADMIN, AB_EV_NOTE_ADDED));
    assert (!ab_catalog_allows (AB_ROLE_AGENT, AB_EV_STACK_DEPLOYED));
    assert (!ab_catalog_allows (AB_ROLE_MONITOR, AB_EV_NOTE_ADDED));
    assert (ab_catalog_allows (AB_ROLE_BUILDER, AB_EV_LEASE_ACQUIRED));
    assert (!ab_catalog_allows (AB_ROLE_NONE, AB_EV_NOTE_ADDED));
    assert (ab_role_from_name ("costd") == AB_ROLE_COSTD);
    assert (ab_role_from_name ("root") == AB_ROLE_NONE);
    //  Every type has a role that may emit it, and every name is noun.verb.
    for (int i = 1; i < AB_EV__COUNT; i++) {
        assert (s_events[i].roles != 0);
        assert (strchr (s_events[i].name, '.'));
        if (verbose)
            printf ("%s ", s_events[i].name);
    }
    printf ("OK\n");
}
