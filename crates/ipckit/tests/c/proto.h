/* The seed's proto.h: what the sender and the receiver agree on. */
#ifndef PROTO_H
#define PROTO_H

#define NAMESIZE 32

struct msg_st {
    long mtype;
    char name[NAMESIZE];
    int math;
    int chinese;
};

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A project id as the Rust examples take it: one non-digit character is its byte
 * value, anything else a number (decimal or 0x-hex). */
static int parse_proj(const char *s) {
    if (s[0] != '\0' && s[1] == '\0' && !isdigit((unsigned char)s[0]))
        return (unsigned char)s[0];
    return (int)strtol(s, NULL, 0);
}

#endif
