// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The pausable target: the protocol the emergency pause protects. Only its guardian (the
/// timelock) may pause it; `paused()` and the `Paused` event are what the bot reads back.
contract AtriumVault {
    address public guardian;
    bool public paused;

    event Paused(address account);
    event Unpaused(address account);

    error NotGuardian(address caller);

    constructor(address guardian_) {
        guardian = guardian_;
    }

    /// Set once, after the timelock is deployed (the deployer stands in until then).
    function setGuardian(address guardian_) external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        guardian = guardian_;
    }

    function pause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        require(!paused, "AtriumVault: already paused");
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        require(paused, "AtriumVault: not paused");
        paused = false;
        emit Unpaused(msg.sender);
    }
}
