// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC20 {
    function transfer(address to, uint256 value) external returns (bool);
}

/// The pausable target: the protocol the emergency pause protects. Its guardian (the
/// timelock) may pause it; `paused()` and the `Paused` event are what the bot reads back.
/// It also has an owner and an operator role (OpenZeppelin's event shapes): an operator may
/// pause it and transfer its ownership. The sandbox grants that role to a compromised key
/// (the world's attacker), so the chain watch can be drilled with `cast send`.
contract AtriumVault {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    address public guardian;
    address public owner;
    bool public paused;
    mapping(bytes32 => mapping(address => bool)) public hasRole;

    event Paused(address account);
    event Unpaused(address account);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);

    error NotGuardian(address caller);
    error NotOwner(address caller);

    constructor(address guardian_) {
        guardian = guardian_;
        owner = guardian_;
        emit OwnershipTransferred(address(0), guardian_);
    }

    function grantRole(bytes32 role, address account) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        hasRole[role][account] = true;
        emit RoleGranted(role, account, msg.sender);
    }

    function revokeRole(bytes32 role, address account) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        hasRole[role][account] = false;
        emit RoleRevoked(role, account, msg.sender);
    }

    /// The owner, or an operator: the power a compromised operator key would abuse.
    function transferOwnership(address newOwner) external {
        if (msg.sender != owner && !hasRole[OPERATOR_ROLE][msg.sender]) revert NotOwner(msg.sender);
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// Set once, after the timelock is deployed (the deployer stands in until then).
    function setGuardian(address guardian_) external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        guardian = guardian_;
    }

    /// The owner or an operator moves tokens the vault holds (an outflow the watch measures).
    function sweep(address token, address to, uint256 value) external {
        if (msg.sender != owner && !hasRole[OPERATOR_ROLE][msg.sender]) revert NotOwner(msg.sender);
        require(IERC20(token).transfer(to, value), "AtriumVault: transfer failed");
    }

    function pause() external {
        if (msg.sender != guardian && !hasRole[OPERATOR_ROLE][msg.sender]) {
            revert NotGuardian(msg.sender);
        }
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
