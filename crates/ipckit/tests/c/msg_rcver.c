/* C counterpart of examples/msg_receiver.rs: msg_rcver PATH PROJ */
#include <errno.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include "proto.h"

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: msg_rcver PATH PROJ\n"); return 2; }
    key_t key = ftok(argv[1], parse_proj(argv[2]));
    if (key < 0) { perror("ftok"); return 1; }
    int created = 1;
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0 && errno == EEXIST) { created = 0; id = msgget(key, 0); }
    if (id < 0) { perror("msgget"); return 1; }
    struct msg_st m;
    if (msgrcv(id, &m, sizeof(m) - sizeof(long), 0, 0) < 0) { perror("msgrcv"); return 1; }
    printf("name=%s math=%d chinese=%d\n", m.name, m.math, m.chinese);
    if (created) msgctl(id, IPC_RMID, NULL);
    return 0;
}
