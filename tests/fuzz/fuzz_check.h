/*  fuzz_check - the one assertion every fuzz target uses for a property
    beyond "does not crash": it names the target's file, the property and
    the line, then aborts so libFuzzer keeps the input.                    */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf (stderr, "%s: property failed: %s (line %d)\n", __FILE__, #c, __LINE__);       \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

#endif
