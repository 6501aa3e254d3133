// Prints the policy reference (docs/policy.md) generated from the config specs.
#include <iostream>

#include "policy/policy.h"

int main() {
  std::cout << strata::policy_reference_markdown();
  return std::cout ? 0 : 1;
}
