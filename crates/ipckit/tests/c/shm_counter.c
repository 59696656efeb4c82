/* C counterpart of examples/shm_counter.rs: shm_counter KEY ROUNDS
 * KEY is a number (0x-hex, decimal or octal). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: shm_counter KEY ROUNDS\n"); return 2; }
    key_t key = (key_t)strtoul(argv[1], NULL, 0);
    long rounds = atol(argv[2]);
    int shmid = shmget(key, 0, 0);
    if (shmid < 0) { perror("shmget"); return 1; }
    int semid = semget(key, 0, 0);
    if (semid < 0) { perror("semget"); return 1; }
    volatile uint64_t *counter = shmat(shmid, NULL, 0);
    if (counter == (void *)-1) { perror("shmat"); return 1; }
    struct sembuf p = {0, -1, SEM_UNDO}, v = {0, 1, SEM_UNDO};
    for (long i = 0; i < rounds; i++) {
        if (semop(semid, &p, 1) < 0) { perror("semop P"); return 1; }
        *counter = *counter + 1;
        if (semop(semid, &v, 1) < 0) { perror("semop V"); return 1; }
    }
    shmdt((const void *)counter);
    return 0;
}
