/* tern_fnv1a: the 64-bit FNV-1a hash of s[0..n), for tables in memory
   (THREAD's Message-IDs) and for telling values apart cheaply (NOTIFY's
   METADATA values); not for anything an attacker may choose to collide
   to some effect. */

#include <stdint.h>
#include <stddef.h>
#include "tern.h"

uint64_t tern_fnv1a (char const *s, size_t n)
{
  uint64_t h = 14695981039346656037ULL ;
  for (size_t i = 0 ; i < n ; i++) { h ^= (unsigned char)s[i] ; h *= 1099511628211ULL ; }
  return h ;
}
