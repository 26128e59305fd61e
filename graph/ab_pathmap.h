/*  ab_pathmap - a small open-addressing hash table from byte strings to items
    The graph looks up a resource by path on every event, so this is on the
    hot path of a rebuild: linear probing over a power-of-two array, the
    hash cached per slot, backward-shift deletion (no tombstones).

    Rules of the API:
    - Keys are borrowed: the bytes must stay valid and unchanged while the
      entry is in the table (the graph keys each resource by its own path).
    - Items are borrowed; the table never frees them.
    - Iteration order is the table's, not canonical: sort if it matters.    */
#ifndef AB_PATHMAP_H
#define AB_PATHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ab_pathmap_t ab_pathmap_t;

//  New empty table.
ab_pathmap_t *ab_pathmap_new (void);

//  Free the table (not keys or items) and null. Safe on NULL.
void ab_pathmap_destroy (ab_pathmap_t **self_p);

//  Item stored under key, NULL if none.
void *ab_pathmap_lookup (const ab_pathmap_t *self, const char *key, size_t len);

//  Store item under key; the key must not be present (programmer error).
void ab_pathmap_insert (ab_pathmap_t *self, const char *key, size_t len, void *item);

//  Remove key; returns its item, NULL if it was not there.
void *ab_pathmap_remove (ab_pathmap_t *self, const char *key, size_t len);

//  Number of entries.
size_t ab_pathmap_size (const ab_pathmap_t *self);

//  Iterate: start with *cursor = 0; returns the next item or NULL at the end.
//  The table must not change during a walk.
void *ab_pathmap_next (const ab_pathmap_t *self, size_t *cursor);

void ab_pathmap_test (bool verbose);

#endif
