/* C counterpart of examples/msg_sender.rs: msg_snder PATH PROJ NAME MATH CHINESE */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include "proto.h"

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: msg_snder PATH PROJ NAME MATH CHINESE\n"); return 2; }
    key_t key = ftok(argv[1], parse_proj(argv[2]));
    if (key < 0) { perror("ftok"); return 1; }
    int id = msgget(key, 0);
    if (id < 0) { perror("msgget"); return 1; }
    struct msg_st m;
    memset(&m, 0, sizeof(m));
    m.mtype = 1;
    strncpy(m.name, argv[3], NAMESIZE - 1);
    m.math = atoi(argv[4]);
    m.chinese = atoi(argv[5]);
    if (msgsnd(id, &m, sizeof(m) - sizeof(long), 0) < 0) { perror("msgsnd"); return 1; }
    return 0;
}
