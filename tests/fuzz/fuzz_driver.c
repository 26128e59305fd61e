/*  fuzz_driver - runs a libFuzzer target's LLVMFuzzerTestOneInput over
    files, so every seed corpus is replayed by CTest in the normal (gcc,
    non-fuzz) build. Arguments are files or directories (one level).
    Fails if it ran no input at all, so an empty corpus cannot pass.       */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
s_run_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        perror (path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc (cap);
    size_t n;
    while (buf && (n = fread (buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc (buf, cap *= 2);
            if (!bigger)
                free (buf);
            buf = bigger;
        }
    }
    int bad = ferror (f) || !buf;
    fclose (f);
    if (bad) {
        fprintf (stderr, "%s: read failed\n", path);
        free (buf);
        return -1;
    }
    LLVMFuzzerTestOneInput (buf, len);
    free (buf);
    return 0;
}

int
main (int argc, char **argv)
{
    int ran = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st) != 0) {
            perror (argv[i]);
            failed++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            failed += s_run_file (argv[i]) != 0;
            ran++;
            continue;
        }
        DIR *dir = opendir (argv[i]);
        struct dirent *de;
        while (dir && (de = readdir (dir))) {
            if (de->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], de->d_name);
            failed += s_run_file (path) != 0;
            ran++;
        }
        if (dir)
            closedir (dir);
    }
    printf ("fuzz_driver: %d inputs, %d unreadable\n", ran, failed);
    return ran > 0 && failed == 0 ? 0 : 1;
}
