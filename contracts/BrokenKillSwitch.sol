// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The known failure mode: `revokeAll` succeeds (the transaction is mined with status 1)
/// and revokes nothing. `isRevoked` stays false and no `Revoked` event is emitted.
contract BrokenKillSwitch {
    mapping(address => bool) public isGuardian;
    mapping(address => bool) public isRevoked;
    uint256 public calls;

    event Revoked(address indexed account, address indexed by);

    constructor(address[] memory guardians) {
        for (uint256 i = 0; i < guardians.length; i++) {
            isGuardian[guardians[i]] = true;
        }
    }

    function revokeAll(address account) external {
        require(isGuardian[msg.sender], "BrokenKillSwitch: not a guardian");
        account; // the bug: the account is never written
        calls += 1;
    }
}
