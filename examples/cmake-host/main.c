/* Reads rows of comma-separated features from stdin (IRIS_N_FEATURES floats a
 * line, no label) and prints the predicted class index, one per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_model.h"

/* Parses exactly IRIS_N_FEATURES numbers separated by commas; 0 on success. */
static int parse_row(const char *line, float *x)
{
    const char *p = line;
    for (int i = 0; i < IRIS_N_FEATURES; i++) {
        char *end;
        errno = 0;
        x[i] = strtof(p, &end);
        if (end == p || errno != 0)
            return -1;
        p = end + strspn(end, " \t");
        if (i + 1 < IRIS_N_FEATURES) {
            if (*p != ',')
                return -1;
            p++;
        }
    }
    return (*p == '\0' || *p == '\n' || *p == '\r') ? 0 : -1;
}

int main(void)
{
    char line[1024];
    float x[IRIS_N_FEATURES];
    unsigned long n = 0;

    while (fgets(line, sizeof line, stdin) != NULL) {
        n++;
        if (strspn(line, " \t\r\n") == strlen(line))
            continue; /* blank line */
        if (parse_row(line, x) != 0) {
            fprintf(stderr, "line %lu: expected %d comma-separated numbers\n", n, IRIS_N_FEATURES);
            return 1;
        }
        printf("%d\n", iris_predict(x));
    }
    return 0;
}
