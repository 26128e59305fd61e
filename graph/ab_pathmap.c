/*  ab_pathmap - open-addressing hash table from byte strings to items      */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_pathmap.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;   //  of the key; 0 marks an empty slot (see s_hash)
    const char *key; //  borrowed
    size_t len;      //  bytes in key
    void *item;      //  borrowed
} s_slot_t;

struct _ab_pathmap_t {
    s_slot_t *slots; //  capacity entries, a power of two
    size_t capacity; //  slots allocated
    size_t size;     //  slots in use
};

//  FNV-1a, 64 bit: short keys, no setup, good enough spread for paths.
//  0 is reserved for "empty", so a key hashing to 0 is moved to 1.
static uint64_t
s_hash (const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

ab_pathmap_t *
ab_pathmap_new (void)
{
    ab_pathmap_t *self = calloc (1, sizeof *self);
    assert (self);
    self->capacity = 64;
    self->slots = calloc (self->capacity, sizeof (s_slot_t));
    assert (self->slots);
    return self;
}

void
ab_pathmap_destroy (ab_pathmap_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->slots);
        free (*self_p);
        *self_p = NULL;
    }
}

static s_slot_t *
s_find (const ab_pathmap_t *self, const char *key, size_t len, uint64_t hash)
{
    size_t mask = self->capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        s_slot_t *slot = &self->slots[i];
        if (slot->hash == 0)
            return NULL;
        if (slot->hash == hash && slot->len == len && memcmp (slot->key, key, len) == 0)
            return slot;
    }
}

void *
ab_pathmap_lookup (const ab_pathmap_t *self, const char *key, size_t len)
{
    assert (self);
    s_slot_t *slot = s_find (self, key, len, s_hash (key, len));
    return slot ? slot->item : NULL;
}

static void
s_place (s_slot_t *slots, size_t capacity, const s_slot_t *entry)
{
    size_t mask = capacity - 1;
    size_t i = entry->hash & mask;
    while (slots[i].hash)
        i = (i + 1) & mask;
    slots[i] = *entry;
}

void
ab_pathmap_insert (ab_pathmap_t *self, const char *key, size_t len, void *item)
{
    assert (self);
    assert (item);
    uint64_t hash = s_hash (key, len);
    assert (!s_find (self, key, len, hash));
    //  Keep the load under 1/2 so probes stay short.
    if ((self->size + 1) * 2 > self->capacity) {
        size_t capacity = self->capacity * 2;
        s_slot_t *slots = calloc (capacity, sizeof (s_slot_t));
        assert (slots);
        for (size_t i = 0; i < self->capacity; i++)
            if (self->slots[i].hash)
                s_place (slots, capacity, &self->slots[i]);
        free (self->slots);
        self->slots = slots;
        self->capacity = capacity;
    }
    s_slot_t entry = { hash, key, len, item };
    s_place (self->slots, self->capacity, &entry);
    self->size++;
}

void *
ab_pathmap_remove (ab_pathmap_t *self, const char *key, size_t len)
{
    assert (self);
    s_slot_t *slot = s_find (self, key, len, s_hash (key, len));
    if (!slot)
        return NULL;
    void *item = slot->item;
    //  Backward-shift: pull later members of the probe run into the hole so
    //  that lookups never stop early at it.
    size_t mask = self->capacity - 1;
    size_t hole = (size_t)(slot - self->slots);
    for (size_t i = (hole + 1) & mask; self->slots[i].hash; i = (i + 1) & mask) {
        size_t home = self->slots[i].hash & mask;
        //  Move entry i to the hole unless its home lies cyclically in (hole, i].
        bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            self->slots[hole] = self->slots[i];
            hole = i;
        }
    }
    memset (&self->slots[hole], 0, sizeof (s_slot_t));
    self->size--;
    return item;
}

size_t
ab_pathmap_size (const ab_pathmap_t *self)
{
    assert (self);
    return self->size;
}

void *
ab_pathmap_next (const ab_pathmap_t *self, size_t *cursor)
{
    assert (self);
    assert (cursor);
    while (*cursor < self->capacity) {
        s_slot_t *slot = &self->slots[(*cursor)++];
        if (slot->hash)
            return slot->item;
    }
    return NULL;
}

void
ab_pathmap_test (bool verbose)
{
    printf (" * ab_pathmap: ");
    ab_pathmap_t *map = ab_pathmap_new ();
    enum { N = 5000 };
    static char keys[N][32];
    for (int i = 0; i < N; i++) {
        snprintf (keys[i], sizeof keys[i], "stack/s/svc/a/%d", i);
        ab_pathmap_insert (map, keys[i], strlen (keys[i]), keys[i]);
    }
    assert (ab_pathmap_size (map) == N);
    for (int i = 0; i < N; i++)
        assert (ab_pathmap_lookup (map, keys[i], strlen (keys[i])) == keys[i]);
    //  A prefix of a key is a different key.
    assert (ab_pathmap_lookup (map, "stack/s/svc/a/1", 14) == NULL);
    assert (ab_pathmap_lookup (map, "nope", 4) == NULL);
    //  Remove every third key; the rest must still be found (backward shift).
    for (int i = 0; i < N; i += 3)
        assert (ab_pathmap_remove (map, keys[i], strlen (keys[i])) == keys[i]);
    assert (ab_pathmap_remove (map, keys[0], strlen (keys[0])) == NULL);
    for (int i = 0; i < N; i++) {
        void *item = ab_pathmap_lookup (map, keys[i], strlen (keys[i]));
        assert (i % 3 == 0 ? item == NULL : item == keys[i]);
    }
    size_t cursor = 0, seen = 0;
    while (ab_pathmap_next (map, &cursor))
        seen++;
    assert (seen == ab_pathmap_size (map));
    assert (seen == N - (N + 2) / 3);
    //  Reinsert after removal works.
    ab_pathmap_insert (map, keys[0], strlen (keys[0]), keys[0]);
    assert (ab_pathmap_lookup (map, keys[0], strlen (keys[0])) == keys[0]);
    ab_pathmap_destroy (&map);
    assert (map == NULL);
    ab_pathmap_destroy (&map);
    printf ("OK\n");
}
