/*  ab_golden - test files for the compose selftests: read, write, compare
    The compiler itself never reads files (callers pass text in); its
    selftests read examples/ and testdata/ and compare results with golden
    files. Paths here are relative to the compose source folder (set by
    compose/CMakeLists.txt as ABBEY_COMPOSE_DIR), so the selftests run from
    any build dir. Test support: failures assert.                          */
#ifndef AB_GOLDEN_H
#define AB_GOLDEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

//  The compose source folder. Borrowed.
const char *ab_golden_dir (void);

//  The whole of compose/REL, NUL-terminated, malloc'd for the caller (its
//  size in *size when size is not NULL); NULL if it cannot be read.
char *ab_golden_read (const char *rel, size_t *size);

//  Replace compose/REL with text.
void ab_golden_write (const char *rel, const char *text);

//  True if the environment asks to regenerate golden files
//  (ABBEY_UPDATE_GOLDEN set).
bool ab_golden_update (void);

//  Assert that value, as sorted and indented JSON, is what compose/REL
//  holds (rewriting REL first when ab_golden_update ()). On a mismatch,
//  print the file and the value before failing.
void ab_golden_check (const json_t *value, const char *rel);

void ab_golden_test (bool verbose);

#endif
