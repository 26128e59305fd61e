/*  ab_doccheck - docs/events.md agrees with the authorization table
    bus/ab_catalog.h is what abbey-logd enforces; docs/events.md is what
    service authors read. This checks that they describe the same types,
    emitted by the same roles, with the same subject form.

    The doc's machine-checked form, per type, in this order:
        ### `node.joined`
        Emitted by: agent
        Subject: `node/<node>`
    Roles are comma-separated in the order of AB_ROLE_MAP. Every "### `"
    heading is a type section; blank lines between the three are allowed.

    Rules of the API:
    - Returns 0 when doc and catalog agree, else a negative code and *err
      naming the file, the line and the first disagreement.               */
#ifndef AB_DOCCHECK_H
#define AB_DOCCHECK_H

#include "ab_error.h"

//  Check markdown text; name is used in messages ("docs/events.md").
int ab_doccheck_events (const char *text, const char *name, ab_error_t **err);

//  Read the file at path and check it.
int ab_doccheck_events_file (const char *path, ab_error_t **err);

void ab_doccheck_test (bool verbose);

#endif
